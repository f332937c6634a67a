// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: faults on attachments, linking and unlinking the region's page
 * tables, TLB flushes for the region, and mappings made inside a region.
 */
#include <linux/file.h>
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <asm/pgalloc.h>
#include <asm/tlb.h>
#include <asm/tlbflush.h>
#include "../internal.h"
#include "mshare.h"

/* May a fault with @flags go through the region's VMA @rvma? */
static bool mshare_access_ok(struct vm_area_struct *rvma, unsigned int flags)
{
	if (flags & FAULT_FLAG_WRITE)
		return rvma->vm_flags & VM_WRITE;
	if (flags & FAULT_FLAG_INSTRUCTION)
		return rvma->vm_flags & VM_EXEC;
	return vma_is_accessible(rvma);
}

/*
 * The region's PUD entry for @raddr.  Lockless: a region's PUD entries,
 * once set, stay set until the region is freed (see free_pmd_range()).
 */
pud_t mshare_region_pud(struct mm_struct *rmm, unsigned long raddr)
{
	pgd_t *pgd = pgd_offset(rmm, raddr);
	p4d_t *p4d;

	if (pgd_none(READ_ONCE(*pgd)))
		return __pud(0);
	p4d = p4d_offset(pgd, raddr);
	if (p4d_none(READ_ONCE(*p4d)))
		return __pud(0);
	return READ_ONCE(*pud_offset(p4d, raddr));
}

/*
 * Point the process's PUD entry for @addr at the region's PMD table.  The
 * attachment's own protection is enforced by the hardware at the PUD
 * level, whatever the region's PTEs allow: a read-only attachment gets the
 * entry without _PAGE_RW, one without PROT_EXEC gets _PAGE_NX (both apply
 * to everything below the entry), and a PROT_NONE attachment is never
 * linked, so that every access faults and is refused by the attachment's
 * VMA.
 */
static vm_fault_t mshare_link(struct vm_area_struct *vma, unsigned long addr,
			      struct mm_struct *rmm, unsigned long raddr)
{
	struct mm_struct *mm = vma->vm_mm;
	pud_t rpud = mshare_region_pud(rmm, raddr);
	spinlock_t *ptl;	/* the process's PUD lock */
	p4d_t *p4d;
	pud_t *pud;

	if (!pud_present(rpud) || pud_leaf(rpud) || !vma_is_accessible(vma))
		return 0;
	if (!(vma->vm_flags & VM_WRITE))
		rpud = __pud(pud_val(rpud) & ~_PAGE_RW);
	if (!(vma->vm_flags & VM_EXEC))
		rpud = __pud(pud_val(rpud) | (_PAGE_NX & __supported_pte_mask));

	p4d = p4d_alloc(mm, pgd_offset(mm, addr), addr);
	if (!p4d)
		return VM_FAULT_OOM;
	pud = pud_alloc(mm, p4d, addr);
	if (!pud)
		return VM_FAULT_OOM;

	ptl = pud_lock(mm, pud);
	if (pud_none(*pud))
		set_pud(pud, rpud);
	else
		WARN_ON_ONCE(pud_pgtable(*pud) != pud_pgtable(rpud));
	spin_unlock(ptl);
	return 0;
}

/*
 * Link every PUD entry of attachment @vma to the region's PMD tables, which
 * exist for the whole region from the moment its size is set (see
 * mshare_region_prealloc()), so that a sharer finds what the region maps
 * without faulting: GUP-fast, pagemap, mincore and core dumps included.
 * The caller holds @vma's mm's mmap_lock for writing: from mmap() of the
 * region (attach) or from fork() (the child's copy of an attachment).
 * Returns 0 or -ENOMEM; what was linked stays linked (the fault path links
 * the rest, and unmapping the attachment unlinks it all).
 */
int mshare_link_all(struct vm_area_struct *vma)
{
	struct mm_struct *rmm = mshare_vma_region(vma)->mm;
	unsigned long addr;

	mmap_assert_write_locked(vma->vm_mm);
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PUD_SIZE)
		if (mshare_link(vma, addr, rmm, mshare_region_addr(vma, addr)))
			return -ENOMEM;
	return 0;
}

/*
 * Take the region's mmap_lock for a fault that holds the process's.
 * Returns false if the fault must be retried instead.
 */
static bool mshare_lock_region(struct mm_struct *rmm, unsigned int flags)
{
	if (flags & FAULT_FLAG_RETRY_NOWAIT)
		return mmap_read_trylock(rmm);
	if ((flags & FAULT_FLAG_ALLOW_RETRY) && (flags & FAULT_FLAG_KILLABLE))
		return !mmap_read_lock_killable(rmm);
	mmap_read_lock(rmm);
	return true;
}

/*
 * Wait, with no lock of the process held, for the I/O that a fault at
 * region address @raddr needs: run the region's fault under the region's
 * mmap_lock alone (it may drop that lock to wait).  The process then
 * retries its fault, and finds the page.
 */
static void mshare_fault_wait(struct mm_struct *rmm, unsigned long raddr,
			      unsigned int flags)
{
	struct vm_area_struct *rvma;
	vm_fault_t ret;

	flags &= ~(FAULT_FLAG_VMA_LOCK | FAULT_FLAG_RETRY_NOWAIT);
	if (mmap_read_lock_killable(rmm))
		return;
	rvma = vma_lookup(rmm, raddr);
	if (!rvma || !mshare_access_ok(rvma, flags)) {
		mmap_read_unlock(rmm);
		return;
	}
	ret = handle_mm_fault(rvma, raddr, flags, NULL);
	if (!(ret & (VM_FAULT_RETRY | VM_FAULT_COMPLETED)))
		mmap_read_unlock(rmm);
}

/*
 * A fault on attachment @vma, with the process's mmap_lock or (with
 * FAULT_FLAG_VMA_LOCK) @vma's lock held: fault in the region's VMA at the
 * corresponding address, then link the process's PUD entry to the region's
 * PMD table, after which the process takes no more faults there for
 * whatever the region has mapped.
 *
 * Every return honours handle_mm_fault()'s contract for the lock the
 * caller holds: VM_FAULT_RETRY (unless FAULT_FLAG_RETRY_NOWAIT) and
 * VM_FAULT_COMPLETED come back with it released, anything else with it
 * held.  The region's own lock is always released here.
 *
 * The process's mmap_lock is never held across I/O: a first try asks the
 * region's fault not to wait (FAULT_FLAG_RETRY_NOWAIT, which keeps the
 * region's lock).  If it would have waited, both locks are dropped, the
 * region's fault runs again under the region's lock alone and waits
 * (mshare_fault_wait()), and the process retries (VM_FAULT_RETRY).
 * Per-VMA-lock faults cannot ask for NOWAIT: there the region's fault
 * drops the region VMA's lock to wait, and only the attachment's VMA lock
 * stays held, which blocks nothing but a change of that attachment.
 */
vm_fault_t mshare_fault(struct vm_area_struct *vma, unsigned long address,
			unsigned int flags, struct pt_regs *regs)
{
	struct mshare_region *r = mshare_vma_region(vma);
	unsigned long raddr = mshare_region_addr(vma, address);
	bool vma_locked = flags & FAULT_FLAG_VMA_LOCK;
	bool wait_later = fault_flag_allow_retry_first(flags) &&
			  !(flags & (FAULT_FLAG_RETRY_NOWAIT | FAULT_FLAG_VMA_LOCK));
	struct mm_struct *rmm = r->mm;
	struct vm_area_struct *rvma;
	struct file *file;
	vm_fault_t ret;

	if (vma_locked) {
		rvma = lock_vma_under_rcu(rmm, raddr);
		if (!rvma) {
			/* A hole, or the region is changing: use mmap_lock. */
			vma_end_read(vma);
			return VM_FAULT_RETRY;
		}
	} else {
		if (!mshare_lock_region(rmm, flags)) {
			if (!(flags & FAULT_FLAG_RETRY_NOWAIT))
				mmap_read_unlock(vma->vm_mm);
			return VM_FAULT_RETRY;
		}
		rvma = vma_lookup(rmm, raddr);
		if (!rvma) {
			mmap_read_unlock(rmm);
			return VM_FAULT_SIGSEGV;
		}
	}

	if (!mshare_access_ok(rvma, flags)) {
		ret = VM_FAULT_SIGSEGV;
		goto unlock;
	}

	ret = handle_mm_fault(rvma, raddr,
			      wait_later ? flags | FAULT_FLAG_RETRY_NOWAIT : flags,
			      regs);
	if ((ret & VM_FAULT_RETRY) && wait_later) {
		/* Both mmap_locks still held (NOWAIT): wait without ours. */
		file = get_file(vma->vm_file);	/* holds the region */
		mmap_read_unlock(rmm);
		mmap_read_unlock(vma->vm_mm);
		mshare_fault_wait(rmm, raddr, flags);
		fput(file);
		return VM_FAULT_RETRY;
	}
	if (ret & (VM_FAULT_RETRY | VM_FAULT_COMPLETED)) {
		/* The region's lock is gone, unless this was a NOWAIT try. */
		if ((ret & VM_FAULT_RETRY) && (flags & FAULT_FLAG_RETRY_NOWAIT))
			goto unlock;
		if (vma_locked)
			vma_end_read(vma);
		else
			mmap_read_unlock(vma->vm_mm);
		return ret;
	}
	if (!(ret & VM_FAULT_ERROR))
		ret |= mshare_link(vma, address, rmm, raddr);
unlock:
	if (vma_locked)
		vma_end_read(rvma);
	else
		mmap_read_unlock(rmm);
	return ret;
}

/*
 * free_pgtables() met a PUD entry of @tlb's mm that links a region's PMD
 * table (see mshare_pud_foreign()): the attachment that linked it is being
 * unmapped.  Unlink the table instead of freeing it, never touching the
 * region's entries, and have the gather flush as for a freed table, so
 * that every CPU that may cache the process's paging structures (lazy-TLB
 * ones included) drops the link before the process's PUD page can be
 * reused.
 */
void mshare_unlink_pud(struct mmu_gather *tlb, pud_t *pud, unsigned long addr)
{
	spinlock_t *ptl = pud_lock(tlb->mm, pud);	/* the process's */

	pud_clear(pud);
	spin_unlock(ptl);
	/*
	 * Every page below the entry may be cached, at any size: a flush of
	 * the range at PUD stride would invalidate one address of it only.
	 */
	tlb->freed_tables = 1;
	tlb->need_flush_all = 1;
	tlb_flush_pud_range(tlb, addr & PUD_MASK, PUD_SIZE);
}

static void mshare_pte_free_rcu(struct rcu_head *head)
{
	struct ptdesc *ptdesc = container_of(head, struct ptdesc, pt_rcu_head);

	pte_free(NULL, ptdesc_page(ptdesc));
}

/*
 * huge_pte_alloc() in region @rmm: the PMD entry for a 2 MiB hugetlb page
 * at @addr.  A region keeps its PTE tables when what was mapped over them
 * goes (see free_pmd_range()), so a hugetlb mapping made later where 4 KiB
 * pages were finds an empty PTE table under its PMD entry, where hugetlb
 * expects none or a huge entry (BUG_ON in huge_pte_alloc()).  Every path
 * that makes a hugetlb entry in a region (fault, GUP, userfaultfd) meets
 * here, whatever made the mapping (mmap or MAP_FIXED inside, or
 * MSHAREFS_CREATE_MAPPING), so the table is retracted here, as khugepaged's
 * retract_page_tables() does: the entry is cleared under the PMD and PTE
 * locks, the sharers are flushed as for a freed table, and the table is
 * freed after an RCU grace period.  A sharer may be walking it under its
 * own mmap_lock, not the region's: its walkers map a PTE table with
 * pte_offset_map_lock(), which rechecks the PMD entry under the PTE lock,
 * and GUP-fast walks with interrupts off, an RCU read-side section.
 *
 * The table is empty: the hugetlb VMA covers all of its 2 MiB, and what
 * was mapped there before was unmapped, entries and all.  A table with an
 * entry left is not taken (NULL: the fault fails with VM_FAULT_OOM).
 */
pmd_t *mshare_huge_pmd_alloc(struct mm_struct *rmm, pud_t *pud,
			     unsigned long addr)
{
	unsigned long haddr = addr & PMD_MASK;
	pmd_t *pmd = pmd_alloc(rmm, pud, addr);
	spinlock_t *pml, *ptl;
	struct ptdesc *table = NULL;
	pte_t *pte;
	pmd_t pmdval;
	int i;

	if (!pmd)
		return NULL;
	pmdval = pmdp_get_lockless(pmd);
	if (!pmd_present(pmdval) || pmd_leaf(pmdval))
		return pmd;

	pml = pmd_lock(rmm, pmd);
	pmdval = pmdp_get(pmd);
	if (!pmd_present(pmdval) || pmd_leaf(pmdval)) {
		spin_unlock(pml);
		return pmd;
	}
	ptl = pte_lockptr(rmm, pmd);
	if (ptl != pml)
		spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
	else
		__acquire(ptl);		/* for sparse: one lock, held once */
	pte = pte_offset_kernel(pmd, haddr);
	for (i = 0; i < PTRS_PER_PTE; i++) {
		if (WARN_ON_ONCE(!pte_none(ptep_get(pte + i)))) {
			pmd = NULL;
			goto unlock;
		}
	}
	table = page_ptdesc(pmd_page(pmdval));
	pmd_clear(pmd);
	flush_tlb_mm_range(rmm, haddr, haddr + PMD_SIZE, PAGE_SHIFT, true);
	mm_dec_nr_ptes(rmm);
unlock:
	if (ptl != pml)
		spin_unlock(ptl);
	else
		__release(ptl);
	spin_unlock(pml);
	if (pmd)
		call_rcu(&table->pt_rcu_head, mshare_pte_free_rcu);
	return pmd;
}

/*
 * Undo mshare_link_all() of an attachment that mmap() is about to drop
 * without closing it: clear every PUD entry it linked and flush them as
 * freed tables, before it leaves the region's sharers.  The caller holds
 * the mm's mmap_lock for writing.
 */
void mshare_unlink_all(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr;
	bool unlinked = false;

	mmap_assert_write_locked(mm);
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PUD_SIZE) {
		pgd_t *pgd = pgd_offset(mm, addr);
		spinlock_t *ptl;	/* the process's PUD lock */
		p4d_t *p4d;
		pud_t *pud;

		if (pgd_none_or_clear_bad(pgd))
			continue;
		p4d = p4d_offset(pgd, addr);
		if (p4d_none_or_clear_bad(p4d))
			continue;
		pud = pud_offset(p4d, addr);
		if (!mshare_pud_foreign(mm, *pud))
			continue;
		ptl = pud_lock(mm, pud);
		pud_clear(pud);
		spin_unlock(ptl);
		unlinked = true;
	}
	if (unlinked)
		flush_tlb_mm_range(mm, vma->vm_start, vma->vm_end, PUD_SHIFT,
				   true);
}

/*
 * GUP through attachment @vma at @addr: the region's VMA there, with the
 * region's mmap_lock held for reading (drop it with mmap_read_unlock() of
 * the VMA's mm), and the region address in *@raddr; or NULL, unlocked, for
 * a hole in the region (or a fatal signal).  GUP judges and follows the
 * region's VMA, as the fault path does, never the attachment alone.  The
 * caller holds the process's mmap_lock, which nests outside the region's.
 */
struct vm_area_struct *mshare_lock_region_vma(struct vm_area_struct *vma,
					      unsigned long addr,
					      unsigned long *raddr)
{
	struct mm_struct *rmm = mshare_vma_region(vma)->mm;
	struct vm_area_struct *rvma;

	*raddr = mshare_region_addr(vma, addr);
	if (mmap_read_lock_killable(rmm))
		return NULL;
	rvma = vma_lookup(rmm, *raddr);
	if (!rvma)
		mmap_read_unlock(rmm);
	return rvma;
}

struct mm_struct *__mshare_futex_mm(struct mm_struct *mm,
				    unsigned long *address)
{
	struct mm_struct *rmm = NULL;
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, *address);
	if (vma && vma_is_mshare(vma)) {
		rmm = mshare_vma_region(vma)->mm;
		mmgrab(rmm);
		*address = mshare_region_addr(vma, *address);
	}
	mmap_read_unlock(mm);
	return rmm;
}

/* Populate [start, end) of the region, as MAP_POPULATE or mlock would. */
void mshare_populate(struct mm_struct *rmm, unsigned long start,
		     unsigned long end)
{
	struct vma_iterator vmi;
	struct vm_area_struct *vma;

	vma_iter_init(&vmi, rmm, start);
	mmap_read_lock(rmm);
	for_each_vma_range(vmi, vma, end) {
		if (fatal_signal_pending(current))
			break;
		populate_vma_page_range(vma, max(start, vma->vm_start),
					min(end, vma->vm_end), NULL);
	}
	mmap_read_unlock(rmm);
}

struct mshare_populate_work {
	struct callback_head work;
	struct file *file;		/* holds the region */
	unsigned long start, end;	/* region addresses */
};

static void mshare_populate_fn(struct callback_head *work)
{
	struct mshare_populate_work *w =
		container_of(work, struct mshare_populate_work, work);

	mshare_populate(mshare_file_region(w->file)->mm, w->start, w->end);
	fput(w->file);
	kfree(w);
}

/*
 * MAP_POPULATE or MAP_LOCKED inside an attachment: populate [start, end)
 * of the region on the way back to user space, once mmap() has dropped the
 * process's mmap_lock, as vm_mmap_pgoff() does with mm_populate(), so that
 * no sharer lock is held while the region's pages are read in.  Best
 * effort, like MAP_POPULATE itself.
 */
static void mshare_populate_later(struct file *file, unsigned long start,
				  unsigned long end)
{
	struct mshare_populate_work *w = kmalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return;
	init_task_work(&w->work, mshare_populate_fn);
	w->file = get_file(file);
	w->start = start;
	w->end = end;
	if (task_work_add(current, &w->work, TWA_RESUME)) {
		fput(w->file);
		kfree(w);
	}
}

/*
 * do_mmap() of a fixed range: if the range meets an attachment of @mm, make
 * the mapping in the region, and return true with the result in *@ret.
 * The caller holds @mm's mmap_lock for writing.
 */
bool __mshare_mmap_inside(struct mm_struct *mm, struct file *file,
			  unsigned long addr, unsigned long len,
			  unsigned long prot, unsigned long flags,
			  vm_flags_t vm_flags, unsigned long pgoff,
			  unsigned long *ret)
{
	struct vm_area_struct *vma;
	struct mshare_region *r;
	unsigned long raddr, populate;
	struct vma_iterator vmi;
	struct mm_struct *rmm;

	vma_iter_init(&vmi, mm, addr);
	len = PAGE_ALIGN(len);
	if (!len || addr + len < addr)
		return false;	/* do_mmap() refuses it */

	for_each_vma_range(vmi, vma, addr + len)
		if (vma_is_mshare(vma))
			break;
	if (!vma)
		return false;

	/*
	 * A range straddling an attachment's edge is neither here nor there;
	 * MAP_FIXED_NOREPLACE finds the attachment in its way.
	 */
	if (addr < vma->vm_start || addr + len > vma->vm_end) {
		*ret = flags & MAP_FIXED_NOREPLACE ? -EEXIST : -EINVAL;
		return true;
	}
	/*
	 * Mapping a region inside a region would make a cycle.  With
	 * MAP_FIXED_NOREPLACE, the attachment already there comes first.
	 */
	if (file && is_mshare_file(file)) {
		*ret = flags & MAP_FIXED_NOREPLACE ? -EEXIST : -EINVAL;
		return true;
	}
	/* Building the region needs a writable attachment of a writable fd. */
	if (!mshare_may_change(vma)) {
		*ret = -EACCES;
		return true;
	}
	/* PUD-sized leaves would replace the PMD tables the sharers use. */
	if (file && is_file_hugepages(file) &&
	    huge_page_size(hstate_file(file)) >= PUD_SIZE) {
		*ret = -EINVAL;
		return true;
	}

	r = mshare_vma_region(vma);
	rmm = r->mm;
	raddr = mshare_region_addr(vma, addr);
	if (mmap_write_lock_killable(rmm)) {
		*ret = -EINTR;
		return true;
	}
	raddr = do_mmap_mm(rmm, file, raddr, len, prot, flags | MAP_FIXED,
			   vm_flags, pgoff, &populate, NULL);
	mmap_write_unlock(rmm);
	if (IS_ERR_VALUE(raddr)) {
		*ret = raddr;
		return true;
	}
	if (populate)
		mshare_populate_later(vma->vm_file, raddr, raddr + populate);
	*ret = vma->vm_start + (raddr - mshare_region_addr(vma, vma->vm_start));
	return true;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: faults on attachments, linking and unlinking the region's page
 * tables, TLB flushes for the region, and mappings made inside a region.
 */
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
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
static pud_t mshare_region_pud(struct mm_struct *rmm, unsigned long raddr)
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
 * Point the process's PUD entry for @addr at the region's PMD table.
 * A read-only attachment gets the entry without _PAGE_RW, so the hardware
 * refuses writes whatever the region's PTEs allow.
 */
static vm_fault_t mshare_link(struct vm_area_struct *vma, unsigned long addr,
			      struct mm_struct *rmm, unsigned long raddr)
{
	struct mm_struct *mm = vma->vm_mm;
	pud_t rpud = mshare_region_pud(rmm, raddr);
	spinlock_t *ptl;	/* the process's PUD lock */
	p4d_t *p4d;
	pud_t *pud;

	if (!pud_present(rpud) || pud_leaf(rpud))
		return 0;
	if (!(vma->vm_flags & VM_WRITE))
		rpud = __pud(pud_val(rpud) & ~_PAGE_RW);

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
 */
vm_fault_t mshare_fault(struct vm_area_struct *vma, unsigned long address,
			unsigned int flags, struct pt_regs *regs)
{
	struct mshare_region *r = mshare_vma_region(vma);
	unsigned long raddr = mshare_region_addr(vma, address);
	bool vma_locked = flags & FAULT_FLAG_VMA_LOCK;
	struct mm_struct *rmm = r->mm;
	struct vm_area_struct *rvma;
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

	ret = handle_mm_fault(rvma, raddr, flags, regs);
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
 * Detach [start, end) of attachment @vma from the region: clear the
 * process's PUD entries, never the region's PTEs, and have the gather flush
 * the whole of the process's TLB, since every page under those entries may
 * be cached.  Called from unmap_single_vma(), before free_pgtables().
 */
void mshare_unmap_vma(struct mmu_gather *tlb, struct vm_area_struct *vma,
		      unsigned long start, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr;
	bool cleared = false;

	/* An attachment cannot be split, so this is all of it. */
	VM_WARN_ON_ONCE(!IS_ALIGNED(start, PUD_SIZE) ||
			!IS_ALIGNED(end, PUD_SIZE));

	for (addr = start; addr < end; addr += PUD_SIZE) {
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
		ptl = pud_lock(mm, pud);
		if (!pud_none(*pud)) {
			pud_clear(pud);
			cleared = true;
		}
		spin_unlock(ptl);
	}
	if (cleared) {
		tlb->need_flush_all = 1;
		tlb_flush_pud_range(tlb, start, end - start);
	}
}

/*
 * A change to the region's page tables: the region's mm runs on no CPU,
 * its sharers' mms do, on any CPU and under their own PCIDs.  Flush
 * everything everywhere; a targeted flush can come later.
 */
void mshare_flush_tlb(struct mm_struct *mm)
{
	flush_tlb_all();
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
		mshare_populate(rmm, raddr, raddr + populate);
	*ret = vma->vm_start + (raddr - MSHARE_BASE);
	return true;
}

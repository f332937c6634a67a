// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: munmap(), mprotect(), madvise(), msync() and mlock() at addresses
 * inside an attachment act on the region, so that every sharer sees the
 * result.
 *
 * The rule for a range [start, end) of a process:
 *  - strictly inside one attachment (and not all of it): act on the region,
 *    at the corresponding region addresses;
 *  - partly covering an attachment and reaching outside it: -EINVAL;
 *  - exactly one whole attachment: munmap() detaches, mlock() and munlock()
 *    act on the part of the region that it maps (all of it, or its window),
 *    msync() writes that back (through the region file's fsync), madvise()
 *    acts on that part of the region, except for advice about the
 *    attachment itself (fork, core dump), which changes the attachment VMA;
 *    mprotect() is refused with -EINVAL;
 *  - whole attachments and more: madvise() is refused, the rest take the
 *    ordinary path, which leaves the attachments' tables alone.
 *
 * Changing the region needs a writable attachment of a writable fd
 * (-EACCES otherwise), except for advice that only reads or hints.
 */
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include "../internal.h"
#include "mshare.h"

bool __mshare_range_meets_attachment(struct mm_struct *mm,
				     unsigned long start, unsigned long end)
{
	VMA_ITERATOR(vmi, mm, start);
	struct vm_area_struct *vma;

	mmap_assert_locked(mm);
	for_each_vma_range(vmi, vma, end)
		if (vma_is_mshare(vma))
			return true;
	return false;
}

/* What a routed operation needs once the process's lock is dropped. */
struct mshare_target {
	struct file *file;		/* holds the region */
	struct mm_struct *rmm;
	unsigned long raddr;
	bool whole;			/* the whole attachment */
};

/* Where a range [start, end) of a process lies, for mshare. */
enum mshare_where {
	MSHARE_ELSEWHERE,	/* meets no attachment */
	MSHARE_INSIDE,		/* strictly inside one attachment */
	MSHARE_WHOLE,		/* exactly one whole attachment */
	MSHARE_BEYOND,		/* whole attachments and more */
};

/*
 * Look for the attachment that [start, start + len) of @mm meets.  The
 * caller holds @mm's mmap_lock.  Returns where the range lies, with *@vmap
 * set for MSHARE_INSIDE and MSHARE_WHOLE, or -EINVAL if the range covers
 * only part of an attachment and reaches outside it.
 */
static int mshare_find_inside(struct mm_struct *mm, unsigned long start,
			      size_t len, struct vm_area_struct **vmap)
{
	unsigned long end = start + len;
	struct vma_iterator vmi;
	struct vm_area_struct *vma;
	int where = MSHARE_ELSEWHERE;

	vma_iter_init(&vmi, mm, start);
	if (!len || end < start)
		return MSHARE_ELSEWHERE;
	for_each_vma_range(vmi, vma, end) {
		if (!vma_is_mshare(vma))
			continue;
		if (start > vma->vm_start || end < vma->vm_end) {
			/* Part of it: inside, or straddling an edge. */
			if (start < vma->vm_start || end > vma->vm_end)
				return -EINVAL;
			*vmap = vma;
			return MSHARE_INSIDE;
		}
		if (start == vma->vm_start && end == vma->vm_end) {
			*vmap = vma;
			return MSHARE_WHOLE;
		}
		where = MSHARE_BEYOND;	/* go on: a later one may straddle */
	}
	return where;
}

/*
 * Find and pin the target of an operation on [start, start + len) of @mm,
 * taking and dropping @mm's mmap_lock for reading.  @whole: a whole
 * attachment stands for the whole region.  Returns 1 if there is a target,
 * 0 if the operation is not for mshare, -EINVAL, or -EACCES if @change and
 * the attachment may not change the region.
 */
static int mshare_get_target(struct mm_struct *mm, unsigned long start,
			     size_t len, bool change, bool whole,
			     struct mshare_target *t)
{
	struct vm_area_struct *vma;
	int ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = mshare_find_inside(mm, start, len, &vma);
	if (ret == MSHARE_INSIDE || (whole && ret == MSHARE_WHOLE)) {
		ret = 1;
		if (change && !mshare_may_change(vma))
			ret = -EACCES;
	} else if (ret > 0) {
		ret = 0;
	}
	if (ret == 1) {
		t->file = get_file(vma->vm_file);
		t->rmm = mshare_vma_region(vma)->mm;
		t->raddr = mshare_region_addr(vma, start);
		t->whole = start == vma->vm_start && len == vma->vm_end - start;
	}
	mmap_read_unlock(mm);
	return ret;
}

/* munmap(): the caller holds @mm's mmap_lock for writing. */
bool __mshare_munmap_inside(struct mm_struct *mm, unsigned long start,
			    size_t len, int *ret)
{
	struct vm_area_struct *vma;
	struct mm_struct *rmm;
	int found;

	if (offset_in_page(start))
		return false;
	len = PAGE_ALIGN(len);
	found = mshare_find_inside(mm, start, len, &vma);
	if (found < 0) {
		*ret = found;
		return true;
	}
	if (found != MSHARE_INSIDE)
		return false;	/* munmap() of a whole attachment detaches */
	if (!mshare_may_change(vma)) {
		*ret = -EACCES;
		return true;
	}
	rmm = mshare_vma_region(vma)->mm;
	/* Process mmap_lock, then the region's: the usual order. */
	if (mmap_write_lock_killable(rmm)) {
		*ret = -EINTR;
		return true;
	}
	*ret = do_munmap(rmm, mshare_region_addr(vma, start), len, NULL);
	mmap_write_unlock(rmm);
	return true;
}

bool __mshare_mprotect_inside(struct mm_struct *mm, unsigned long start,
			      size_t len, unsigned long prot, int pkey,
			      int *ret)
{
	struct mshare_target t;
	int found;

	if (offset_in_page(start))
		return false;
	/* A whole attachment: mprotect() refuses it */
	found = mshare_get_target(mm, start, PAGE_ALIGN(len), true, false, &t);
	if (found <= 0) {
		*ret = found;
		return found < 0;
	}
	/* Protection keys are per process; a region has none. */
	if (pkey != -1)
		*ret = -EINVAL;
	else
		*ret = do_mprotect_pkey_mm(t.rmm, t.raddr, len, prot, -1);
	fput(t.file);
	return true;
}

/* Advice that a region takes, and whether it may come from a reader. */
static int mshare_advice_ok(int behavior)
{
	switch (behavior) {
	case MADV_WILLNEED:
	case MADV_POPULATE_READ:
		return 1;	/* hints, allowed read-only */
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
	case MADV_FREE:
	case MADV_REMOVE:
	case MADV_COLD:
	case MADV_PAGEOUT:
	case MADV_POPULATE_WRITE:
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
	case MADV_DONTDUMP:
	case MADV_DODUMP:
		return 2;	/* change the region for every sharer */
	default:
		return 0;	/* KSM, fork advice, collapse, ...: refused */
	}
}

/*
 * Advice on what the region maps in [raddr, raddr + len): one VMA of the
 * region at a time, so that its holes are skipped.  A whole attachment has
 * no holes for the process; what the region does not map there is no
 * error of the caller's (do_madvise() over a hole would give -ENOMEM, and
 * MADV_POPULATE_* would stop at the first one).
 */
static int mshare_madvise_region(struct mm_struct *rmm, unsigned long raddr,
				 size_t len, int behavior)
{
	unsigned long addr = raddr, end = raddr + len;
	int ret = 0;

	while (!ret && addr < end) {
		struct vm_area_struct *vma;
		unsigned long vstart, vend;

		if (fatal_signal_pending(current))
			return -EINTR;
		if (mmap_read_lock_killable(rmm))
			return -EINTR;
		vma = find_vma(rmm, addr);
		if (!vma || vma->vm_start >= end) {
			mmap_read_unlock(rmm);
			break;
		}
		vstart = max(addr, vma->vm_start);
		vend = min(end, vma->vm_end);
		mmap_read_unlock(rmm);
		ret = do_madvise(rmm, vstart, vend - vstart, behavior);
		addr = vend;
		cond_resched();
	}
	return ret;
}

/*
 * madvise(): strictly inside an attachment, the advice acts on the region
 * at the corresponding addresses; on a whole attachment (or window), on
 * everything the region maps there.  Advice about the attachment itself
 * (mshare_attachment_advice(): fork and core dump) takes the ordinary path
 * on a whole attachment, which changes the attachment VMA's flags for this
 * process alone.  Advice over attachments and more is refused: the
 * ordinary path would act on the memory around them before it met an
 * attachment that refuses it.
 */
bool __mshare_madvise_inside(struct mm_struct *mm, unsigned long start,
			     size_t len, int behavior, int *ret)
{
	int ok = mshare_advice_ok(behavior);
	struct vm_area_struct *vma;
	struct mshare_target t;
	int found;

	if (mmap_read_lock_killable(mm)) {
		*ret = -EINTR;
		return true;
	}
	found = mshare_find_inside(mm, start, len, &vma);
	mmap_read_unlock(mm);
	if (found == MSHARE_BEYOND) {
		*ret = -EINVAL;
		return true;
	}
	if (found == MSHARE_WHOLE && mshare_attachment_advice(behavior))
		return false;

	found = mshare_get_target(mm, start, len, ok == 2, true, &t);
	if (found <= 0) {
		*ret = found;
		return found < 0;
	}
	if (!ok)
		*ret = -EINVAL;
	else if (t.whole)
		*ret = mshare_madvise_region(t.rmm, t.raddr, len, behavior);
	else
		*ret = do_madvise(t.rmm, t.raddr, len, behavior);
	fput(t.file);
	return true;
}

/* msync(): writes back the region's files; allowed through any attachment. */
bool __mshare_msync_inside(struct mm_struct *mm, unsigned long start,
			   size_t len, int flags, int *ret)
{
	struct mshare_target t;
	int found;

	if (offset_in_page(start))
		return false;
	found = mshare_get_target(mm, start, PAGE_ALIGN(len), false, false, &t);
	if (found <= 0) {
		*ret = found;
		return found < 0;
	}
	*ret = do_msync_mm(t.rmm, t.raddr, len, flags);
	fput(t.file);
	return true;
}

/*
 * mlock(), mlock2() and munlock(): the region's VMAs are locked for every
 * sharer, counted in the region's locked_vm, and checked against the
 * caller's RLIMIT_MEMLOCK together with what the other regions of the same
 * user have locked (so that N regions do not lock N times the limit), and
 * the region is populated (unless MLOCK_ONFAULT).
 */
bool __mshare_mlock_inside(struct mm_struct *mm, unsigned long start,
			   size_t len, vm_flags_t flags, int *ret)
{
	unsigned long elsewhere = 0;
	struct mshare_target t;
	int found;

	/* mlock() of a whole attachment locks the whole region */
	found = mshare_get_target(mm, start, len, true, true, &t);
	if (found <= 0) {
		*ret = found;
		return found < 0;
	}
	if (flags)
		elsewhere = mshare_user_locked_elsewhere(mshare_file_region(t.file));
	*ret = do_mlock_mm(t.rmm, t.raddr, len, flags, elsewhere);
	if (!*ret && (flags & VM_LOCKED))
		mshare_populate(t.rmm, t.raddr, t.raddr + len);
	fput(t.file);
	return true;
}

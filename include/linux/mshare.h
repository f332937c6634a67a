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
bool mshare_mmap_inside(struct mm_struct *mm, struct file *file,
			unsigned long addr, unsigned long len,
			unsigned long prot, unsigned long flags,
			vm_flags_t vm_flags, unsigned long pgoff,
			unsigned long *ret);
void mshare_flush_tlb(struct mm_struct *mm);

/* Set once the first region is created; gates the futex lookup. */
DECLARE_STATIC_KEY_FALSE(mshare_in_use);
struct mm_struct *__mshare_futex_mm(struct mm_struct *mm,
				    unsigned long *address);

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

#endif /* CONFIG_MSHARE */
#endif /* _LINUX_MSHARE_H */

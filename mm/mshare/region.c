// SPDX-License-Identifier: GPL-2.0
/*
 * mshare regions: the region mm, its size, attaching, and building it
 * without attaching (the msharefs ioctls).  Names, inodes and file
 * operations are msharefs's (fs/msharefs).
 *
 * A region's lifetime is its inode's: every fd, every attachment (through
 * vma->vm_file) and every msharefs name holds the inode, and msharefs frees
 * the region when the inode is evicted.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/hugetlb.h>
#include <linux/memcontrol.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/security.h>
#include <linux/seq_buf.h>
#include <linux/slab.h>
#include <linux/syscalls.h>
#include <linux/sysctl.h>
#include <asm/pgalloc.h>
#include <asm/tlb.h>
#include <uapi/linux/mshare.h>
#include <uapi/linux/msharefs.h>
#include "../internal.h"
#include "mshare.h"

/*
 * Region mmap_locks nest inside process mmap_locks (a fault on an
 * attachment takes the process's lock, then the region's); a class of their
 * own lets lockdep check that nothing takes them the other way round.
 */
static struct lock_class_key mshare_mmap_lock_key;

DEFINE_STATIC_KEY_FALSE(mshare_in_use);

/*
 * The memcg of a region's creator, with a css reference (r->memcg): what a
 * kernel thread (khugepaged) allocates for a region is charged there,
 * never to the root (see get_mem_cgroup_from_mm()).  Faults are charged to
 * the faulting task, as shmem's are.  Readers use RCU: the region and its
 * memcg are freed after a grace period, and css_tryget() fails once the
 * memcg is dying.
 */
struct mem_cgroup *mshare_mm_memcg(struct mm_struct *rmm)
{
	struct mem_cgroup *memcg = NULL;
	struct mshare_region *r;

	rcu_read_lock();
	r = xa_load(&mshare_regions, (unsigned long)rmm);
	if (r && r->memcg && css_tryget(&r->memcg->css))
		memcg = r->memcg;
	rcu_read_unlock();
	return memcg;
}

struct mshare_region *mshare_region_alloc(void)
{
	struct mem_cgroup *memcg;
	struct mshare_region *r;
	struct mm_struct *mm;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	mm = mm_alloc();
	if (!mm) {
		kfree(r);
		return NULL;
	}
	lockdep_set_class(&mm->mmap_lock, &mshare_mmap_lock_key);
#ifdef CONFIG_MEMCG
	/* No task owns a region: charges go to the faulting task. */
	WRITE_ONCE(mm->owner, NULL);
#endif
	mm->task_size = TASK_SIZE_MAX;
	mm->mmap_base = MSHARE_BASE;
	set_bit(MMF_MSHARE, &mm->flags);
	r->mm = mm;
	memcg = get_mem_cgroup_from_mm(current->mm);
	r->memcg = memcg;
	if (xa_err(xa_store(&mshare_regions, (unsigned long)mm, r, GFP_KERNEL)))
		goto free;
	/*
	 * Last: on failure the notifier's free_notifier has freed r (after
	 * a grace period); only locals are used from then on.
	 */
	if (mshare_sharers_init(r)) {
		xa_erase(&mshare_regions, (unsigned long)mm);
		mem_cgroup_put(memcg);
		mmput(mm);
		return NULL;
	}
	static_branch_enable(&mshare_in_use);
	return r;
free:
	mem_cgroup_put(memcg);
	mmput(mm);
	kfree(r);
	return NULL;
}

/*
 * vm.mshare_max_bytes: the most bytes of regions that one user (the
 * effective uid that sets a region's size) may have at once.  Each GiB of
 * a region costs a page table page from the start (mshare_region_prealloc()),
 * charged to the caller's memcg; this bounds what a user can pin that way
 * outside any memcg limit, as SHMALL bounds System V shared memory.
 * Beyond it, setting a size fails with ENOSPC.  The default, 16 TiB,
 * costs at most 64 MiB of page tables per user.
 */
static unsigned long mshare_max_bytes = 16UL << 40;

struct mshare_user {
	struct hlist_node node;
	kuid_t uid;
	unsigned long bytes;
	struct list_head regions;	/* whose size it was charged */
};

static DEFINE_HASHTABLE(mshare_users, 6);
static DEFINE_SPINLOCK(mshare_users_lock);	/* mshare_users and bytes */

static struct mshare_user *mshare_user_find(kuid_t uid)
{
	struct mshare_user *u;

	hash_for_each_possible(mshare_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/*
 * Charge the size of @r to @r->uid: 0, -ENOSPC beyond the limit, or
 * -ENOMEM.  @r joins the user's regions.
 */
static int mshare_user_charge(struct mshare_region *r, unsigned long bytes)
{
	kuid_t uid = r->uid;
	struct mshare_user *u, *new = kzalloc(sizeof(*new), GFP_KERNEL);
	unsigned long max = READ_ONCE(mshare_max_bytes);
	int ret = 0;

	spin_lock(&mshare_users_lock);
	u = mshare_user_find(uid);
	if (!u && new) {
		u = new;
		new = NULL;
		u->uid = uid;
		INIT_LIST_HEAD(&u->regions);
		hash_add(mshare_users, &u->node, __kuid_val(uid));
	}
	if (!u) {
		ret = -ENOMEM;
	} else if (bytes > max || u->bytes > max - bytes) {
		ret = -ENOSPC;
	} else {
		u->bytes += bytes;
		list_add(&r->user_node, &u->regions);
	}
	spin_unlock(&mshare_users_lock);
	kfree(new);
	return ret;
}

static void mshare_user_uncharge(struct mshare_region *r, unsigned long bytes)
{
	struct mshare_user *u;

	spin_lock(&mshare_users_lock);
	u = mshare_user_find(r->uid);
	if (!WARN_ON_ONCE(!u || u->bytes < bytes))
		u->bytes -= bytes;
	list_del(&r->user_node);
	spin_unlock(&mshare_users_lock);
}

/*
 * RLIMIT_MEMLOCK is per user, not per region: the pages that the other
 * regions of @r's user (the one charged for its size) have locked, which
 * mlock() inside @r counts besides @r's own.
 */
unsigned long mshare_user_locked_elsewhere(struct mshare_region *r)
{
	struct mshare_region *other;
	struct mshare_user *u;
	unsigned long pages = 0;

	spin_lock(&mshare_users_lock);
	u = mshare_user_find(r->uid);
	if (u)
		list_for_each_entry(other, &u->regions, user_node)
			if (other != r)
				pages += READ_ONCE(other->mm->locked_vm);
	spin_unlock(&mshare_users_lock);
	return pages;
}

#ifdef CONFIG_DEBUG_VM
static int mshare_tripwire_selftest(void);

/* vm.mshare_tripwire_selftest: write 1 to run mshare_tripwire_selftest(). */
static int mshare_tripwire_handler(const struct ctl_table *table, int write,
				   void *buffer, size_t *lenp, loff_t *ppos)
{
	struct ctl_table t = *table;
	int val = 0, ret;

	t.data = &val;
	ret = proc_dointvec(&t, write, buffer, lenp, ppos);
	if (ret || !write || val != 1)
		return ret;
	return mshare_tripwire_selftest();
}
#endif

static struct ctl_table mshare_sysctls[] = {
	{
		.procname	= "mshare_max_bytes",
		.data		= &mshare_max_bytes,
		.maxlen		= sizeof(mshare_max_bytes),
		.mode		= 0644,
		.proc_handler	= proc_doulongvec_minmax,
	},
#ifdef CONFIG_DEBUG_VM
	{
		.procname	= "mshare_tripwire_selftest",
		.maxlen		= sizeof(int),
		.mode		= 0200,
		.proc_handler	= mshare_tripwire_handler,
	},
#endif
};

static int __init mshare_sysctl_init(void)
{
	register_sysctl_init("vm", mshare_sysctls);
	return 0;
}
subsys_initcall(mshare_sysctl_init);

/*
 * Mark (@owner) or unmark (NULL) every PMD table of region @rmm as the
 * region's: see mshare_pud_foreign().  Tables are marked when they are
 * made (mshare_region_prealloc()) and unmarked just before they are freed.
 */
static void mshare_mark_table(pud_t *pud, struct mm_struct *owner)
{
	struct ptdesc *ptdesc = virt_to_ptdesc(pud_pgtable(*pud));

	WRITE_ONCE(ptdesc->__page_mapping, (unsigned long)owner);
}

static void mshare_unmark_tables(struct mm_struct *rmm)
{
	unsigned long addr = MSHARE_BASE, end = MSHARE_BASE + MSHARE_MAX_SIZE;

	while (addr < end) {
		pgd_t *pgd = pgd_offset(rmm, addr);
		p4d_t *p4d;
		pud_t *pud;

		if (pgd_none(*pgd)) {
			addr = pgd_addr_end(addr, end);
			continue;
		}
		p4d = p4d_offset(pgd, addr);
		if (p4d_none(*p4d)) {
			addr = p4d_addr_end(addr, end);
			continue;
		}
		pud = pud_offset(p4d, addr);
		if (pud_present(*pud) && !pud_leaf(*pud))
			mshare_mark_table(pud, NULL);
		addr += PUD_SIZE;
		cond_resched();
	}
}

void mshare_region_free(struct mshare_region *r)
{
	struct mm_struct *mm = r->mm;
	struct mmu_gather tlb;

	if (WARN_ON_ONCE(atomic_read(&r->nr_attach)))
		return;		/* leak rather than free tables still linked */
	/* Out of the user's regions while r->mm is whole. */
	if (r->size)
		mshare_user_uncharge(r, r->size);
	xa_erase(&mshare_regions, (unsigned long)mm);
	mem_cgroup_put(r->memcg);
	/*
	 * The last reference may be dropped by any task, a 32-bit one
	 * included: nothing here depends on current's mm or TASK_SIZE.
	 * exit_mmap() unmaps every VMA of the region; MMF_MSHARE still keeps
	 * every page table (see free_pmd_range()).  The tables are freed
	 * afterwards, all at once, also those outside the VMAs, where
	 * exit_mmap() does not look.  No TLB flush is needed for them: the
	 * region's mm never ran on a CPU, and every sharer's CPUs dropped
	 * their paging-structure caches of these tables when it detached
	 * (mshare_unlink_pud() flushes as for freed tables, lazy CPUs
	 * included), before it left the sharers.  Nothing is attached now.
	 */
	mmgrab(mm);
	mmput(mm);
	mmap_write_lock(mm);
	mshare_unmark_tables(mm);
	clear_bit(MMF_MSHARE, &mm->flags);
	tlb_gather_mmu(&tlb, mm);
	free_pgd_range(&tlb, FIRST_USER_ADDRESS, TASK_SIZE_MAX,
		       FIRST_USER_ADDRESS, USER_PGTABLES_CEILING);
	tlb_finish_mmu(&tlb);
	mmap_write_unlock(mm);
	mmdrop(mm);
	mshare_sharers_exit(r);		/* frees r */
}

static bool mshare_size_ok(loff_t size)
{
	return size > 0 && IS_ALIGNED(size, PUD_SIZE) && size <= MSHARE_MAX_SIZE;
}

/*
 * The region's PMD table under @pud, as pmd_alloc() makes it, except that
 * it fails with -ENOMEM instead of invoking the OOM killer
 * (__GFP_NORETRY): a size costs one table per GiB up front, and a size too
 * large for the caller's memcg is the caller's error, not a reason to kill
 * a task.  The caller holds @rmm's mmap_lock for writing, before the region
 * has any VMA.
 */
static int mshare_pmd_alloc(struct mm_struct *rmm, pud_t *pud)
{
	struct ptdesc *ptdesc;
	spinlock_t *ptl;	/* the region's PUD lock */

	if (pud_present(*pud))
		return 0;
	ptdesc = pagetable_alloc(GFP_PGTABLE_USER | __GFP_NORETRY |
				 __GFP_NOWARN, 0);
	if (!ptdesc)
		return -ENOMEM;
	if (!pagetable_pmd_ctor(ptdesc)) {
		pagetable_free(ptdesc);
		return -ENOMEM;
	}
	ptl = pud_lock(rmm, pud);
	mm_inc_nr_pmds(rmm);
	pud_populate(rmm, pud, ptdesc_address(ptdesc));
	spin_unlock(ptl);
	return 0;
}

/*
 * Allocate the region's P4D, PUD and PMD tables for [MSHARE_BASE, +@size):
 * one PMD table per PUD_SIZE, kept until the region is freed, so that every
 * attachment can link all of its PUD entries when it is made.  Tables
 * allocated before a failure are freed with the region.
 */
static int mshare_region_prealloc(struct mm_struct *rmm, unsigned long size)
{
	unsigned long addr;
	int ret = 0;

	if (mmap_write_lock_killable(rmm))
		return -EINTR;
	for (addr = MSHARE_BASE; addr < MSHARE_BASE + size; addr += PUD_SIZE) {
		pgd_t *pgd = pgd_offset(rmm, addr);
		p4d_t *p4d;
		pud_t *pud;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		p4d = p4d_alloc(rmm, pgd, addr);
		pud = p4d ? pud_alloc(rmm, p4d, addr) : NULL;
		if (!pud || mshare_pmd_alloc(rmm, pud)) {
			ret = -ENOMEM;
			break;
		}
		mshare_mark_table(pud, rmm);
		cond_resched();
	}
	mmap_write_unlock(rmm);
	return ret;
}

/*
 * The size is set once: at creation, or by the first ftruncate() or
 * fallocate() of a region created by name.  Setting it again to the same
 * value is a no-op.  The caller holds the inode lock.
 */
int mshare_region_set_size(struct mshare_region *r, loff_t size)
{
	unsigned long cur = READ_ONCE(r->size);
	int ret;

	if (cur)
		return size == cur ? 0 : -EBUSY;
	if (!mshare_size_ok(size))
		return -EINVAL;
	r->uid = current_euid();
	ret = mshare_user_charge(r, size);
	if (ret)
		return ret;
	ret = mshare_region_prealloc(r->mm, size);
	if (ret) {
		mshare_user_uncharge(r, size);
		return ret;
	}
	WRITE_ONCE(r->size, size);
	return 0;
}

unsigned long mshare_region_size(struct mshare_region *r)
{
	return READ_ONCE(r->size);
}

/* vm_ops of an attachment (a VMA of the attaching process) */

static void mshare_vm_open(struct vm_area_struct *vma)
{
	/*
	 * fork() duplicates an attachment (splitting and mremap() are
	 * refused): the child joins the sharers (open cannot fail, and the
	 * entry is small), then shares the region's tables at once.  If
	 * linking fails for want of memory, the child's faults link what is
	 * missing.
	 */
	mshare_sharer_add(vma, GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	mshare_link_all(vma);
}

/*
 * Every unmap of an attachment (munmap(), exit, exec, MAP_FIXED over it)
 * has unlinked its PUD entries and flushed them (free_pgtables()) before
 * it closes the VMA: only then does the sharer leave the region's list.
 */
static void mshare_vm_close(struct vm_area_struct *vma)
{
	mshare_sharer_del(vma);
}

static int mshare_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static vm_fault_t mshare_vm_fault(struct vm_fault *vmf)
{
	/* handle_mm_fault() routes attachment faults to mshare_fault() */
	WARN_ON_ONCE(1);
	return VM_FAULT_SIGBUS;
}

/*
 * vm_normal_page() on an attachment (pagemap, GUP-fast's callers) meets the
 * region's special PTEs (VM_PFNMAP, VM_MIXEDMAP mappings inside): they
 * have no struct page to report, through the attachment as in the region.
 */
static struct page *mshare_vm_find_special_page(struct vm_area_struct *vma,
						unsigned long addr)
{
	return NULL;
}

static const struct vm_operations_struct mshare_vm_ops = {
	.open = mshare_vm_open,
	.close = mshare_vm_close,
	.may_split = mshare_vm_may_split,
	.fault = mshare_vm_fault,
	.find_special_page = mshare_vm_find_special_page,
};

/*
 * Is [pgoff, pgoff + pages) (in pages) a window of region @r: PUD-aligned,
 * not empty, inside the region?  No sum that could wrap.
 */
static bool mshare_window_ok(struct mshare_region *r, unsigned long pgoff,
			     unsigned long pages)
{
	unsigned long rpages = mshare_region_size(r) >> PAGE_SHIFT;
	unsigned long align = PUD_SIZE >> PAGE_SHIFT;

	return rpages && pages && IS_ALIGNED(pgoff, align) &&
	       IS_ALIGNED(pages, align) && pages <= rpages &&
	       pgoff <= rpages - pages;
}

/*
 * Attach: mmap() of the region, MAP_SHARED, at a PUD-aligned address: all
 * of it, or a window [off, off + len) with off (mmap()'s offset) and len
 * multiples of PUD_SIZE inside the region.
 */
int mshare_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mshare_region *r = mshare_file_region(file);
	int ret;

	/* MAP_SHARED; without FMODE_WRITE do_mmap() drops VM_SHARED */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (!mshare_window_ok(r, vma->vm_pgoff, vma_pages(vma)))
		return -EINVAL;
	if (!IS_ALIGNED(vma->vm_start, PUD_SIZE))
		return -EINVAL;
	/* A region inside a region would be a cycle never freed. */
	if (mm_is_mshare(vma->vm_mm))
		return -EINVAL;

	/*
	 * VM_DONTEXPAND also makes the VMA VM_SPECIAL: it never merges,
	 * and mlock() populates it without marking the process's VMA locked.
	 */
	vm_flags_set(vma, VM_MSHARE | VM_DONTEXPAND);
	/*
	 * Join the sharers, then share the region's tables from the start.
	 * If linking fails, mmap() unmaps the VMA without closing it: unlink
	 * here what was linked, and flush it, before leaving the sharers.
	 */
	ret = mshare_sharer_add(vma, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	ret = mshare_link_all(vma);
	if (ret) {
		mshare_unlink_all(vma);
		mshare_sharer_del(vma);
		return ret;
	}
	vma->vm_ops = &mshare_vm_ops;
	return 0;
}

/*
 * fsync() of a region, and msync(MS_SYNC) of a whole attachment: write back
 * every shared file mapping of the region that meets [start, end] (region
 * offsets), each over the part of its file that the region maps there.
 */
int mshare_region_fsync(struct mshare_region *r, loff_t start, loff_t end,
			int datasync)
{
	loff_t size = mshare_region_size(r);
	unsigned long addr = MSHARE_BASE + start;
	unsigned long last = MSHARE_BASE + min(end, size - 1);
	struct mm_struct *rmm = r->mm;
	int ret = 0;

	if (!size || start < 0 || start > end || start >= size)
		return 0;
	while (addr <= last) {
		struct vm_area_struct *vma;
		struct file *file;
		loff_t fstart, fend;
		int err;

		if (mmap_read_lock_killable(rmm))
			return -EINTR;
		vma = find_vma(rmm, addr);
		if (!vma || vma->vm_start > last) {
			mmap_read_unlock(rmm);
			break;
		}
		addr = max(addr, vma->vm_start);
		fstart = ((loff_t)vma->vm_pgoff << PAGE_SHIFT) +
			 (addr - vma->vm_start);
		fend = fstart + (min(vma->vm_end - 1, last) - addr);
		file = NULL;
		if (vma->vm_file && (vma->vm_flags & VM_SHARED))
			file = get_file(vma->vm_file);
		addr = vma->vm_end;
		mmap_read_unlock(rmm);
		if (!file)
			continue;
		err = vfs_fsync_range(file, fstart, fend, datasync);
		fput(file);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

unsigned long mshare_get_unmapped_area(struct file *file, unsigned long addr,
				       unsigned long len, unsigned long pgoff,
				       unsigned long flags)
{
	unsigned long ret;

	if (flags & MAP_FIXED)
		return IS_ALIGNED(addr, PUD_SIZE) ? addr : -EINVAL;
	if (len > TASK_SIZE - PUD_SIZE)
		return -ENOMEM;
	if (addr && IS_ALIGNED(addr, PUD_SIZE)) {
		ret = mm_get_unmapped_area(current->mm, NULL, addr, len, 0, flags);
		if (ret == addr)
			return ret;
	}
	ret = mm_get_unmapped_area(current->mm, NULL, 0, len + PUD_SIZE, 0,
				   flags);
	if (IS_ERR_VALUE(ret))
		return ret;
	return ALIGN(ret, PUD_SIZE);
}

/* Is [offset, offset + size) a page-aligned range inside the region? */
static bool mshare_range_ok(struct mshare_region *r, u64 offset, u64 size)
{
	unsigned long rsize = mshare_region_size(r);

	return rsize && size && PAGE_ALIGNED(offset) && PAGE_ALIGNED(size) &&
	       offset < rsize && size <= rsize - offset;
}

/* MSHAREFS_CREATE_MAPPING: mmap() into the region, without attaching. */
long mshare_region_create_mapping(struct mshare_region *r,
				  const struct mshare_create *mc)
{
	unsigned long flags = mc->flags, addr, populate;
	struct mm_struct *rmm = r->mm;
	struct file *file = NULL;
	long ret;

	if (!mshare_range_ok(r, mc->region_offset, mc->size) ||
	    !PAGE_ALIGNED(mc->offset))
		return -EINVAL;
	if ((flags & (MAP_SHARED | MAP_FIXED)) != (MAP_SHARED | MAP_FIXED) ||
	    (flags & MAP_TYPE) != MAP_SHARED)
		return -EINVAL;
	flags &= ~MAP_DENYWRITE;

	if (mc->fd == (u32)-1) {
		flags |= MAP_ANONYMOUS;
		if (flags & MAP_HUGETLB) {
			file = hugetlb_file_setup(HUGETLB_ANON_FILE, mc->size,
						  VM_NORESERVE,
						  HUGETLB_ANONHUGE_INODE,
						  (flags >> MAP_HUGE_SHIFT) &
						  MAP_HUGE_MASK);
			if (IS_ERR(file))
				return PTR_ERR(file);
		}
	} else {
		if (flags & (MAP_ANONYMOUS | MAP_HUGETLB))
			return -EINVAL;
		file = fget(mc->fd);
		if (!file)
			return -EBADF;
		ret = -EINVAL;
		if (is_mshare_file(file))
			goto out;	/* a region inside a region: a cycle */
	}
	if (file && is_file_hugepages(file) &&
	    huge_page_size(hstate_file(file)) >= PUD_SIZE) {
		ret = -EINVAL;	/* PUD leaves would replace shared tables */
		goto out;
	}

	ret = security_mmap_file(file, mc->prot, flags);
	if (ret)
		goto out;
	if (mmap_write_lock_killable(rmm)) {
		ret = -EINTR;
		goto out;
	}
	addr = do_mmap_mm(rmm, file, MSHARE_BASE + mc->region_offset, mc->size,
			  mc->prot, flags, 0, mc->offset >> PAGE_SHIFT,
			  &populate, NULL);
	mmap_write_unlock(rmm);
	if (IS_ERR_VALUE(addr)) {
		ret = addr;
		goto out;
	}
	if (populate)
		mshare_populate(rmm, addr, addr + populate);
	ret = 0;
out:
	if (file)
		fput(file);
	return ret;
}

/* MSHAREFS_UNMAP */
long mshare_region_unmap(struct mshare_region *r, u64 offset, u64 size)
{
	struct mm_struct *rmm = r->mm;
	long ret;

	if (!mshare_range_ok(r, offset, size))
		return -EINVAL;
	if (mmap_write_lock_killable(rmm))
		return -EINTR;
	ret = do_munmap(rmm, MSHARE_BASE + offset, size, NULL);
	mmap_write_unlock(rmm);
	return ret;
}

/* Exact, unlike get_mm_rss(): the per-CPU counts are summed. */
static unsigned long mshare_resident_pages(struct mm_struct *rmm)
{
	unsigned long pages = 0;
	int i;

	for (i = 0; i < NR_MM_COUNTERS; i++)
		if (i != MM_SWAPENTS)
			pages += percpu_counter_sum_positive(&rmm->rss_stat[i]);
#ifdef CONFIG_HUGETLB_PAGE
	pages += atomic_long_read(&rmm->hugetlb_usage);
#endif
	return pages;
}

/*
 * The page tables that a process would need, without mshare, for what the
 * region maps in [@start, @end) (region addresses, PUD-aligned): a PTE
 * table for every PMD entry of the region that points to one, and a PMD
 * table for every GiB where the region has any PMD entry.  Read from the
 * region's PMD tables, which live as long as the region; the entries are
 * only read, so no lock is needed for a figure that is a snapshot anyway.
 */
static unsigned long mshare_pgtable_needed(struct mm_struct *rmm,
					   unsigned long start,
					   unsigned long end)
{
	unsigned long addr, tables = 0;

	for (addr = start; addr < end; addr += PUD_SIZE) {
		pud_t pud = mshare_region_pud(rmm, addr);
		unsigned long ptes = 0, used = 0;
		pmd_t *pmd;
		int i;

		if (!pud_present(pud) || pud_leaf(pud))
			continue;
		pmd = pud_pgtable(pud);
		for (i = 0; i < PTRS_PER_PMD; i++) {
			pmd_t val = pmdp_get_lockless(pmd + i);

			if (pmd_none(val))
				continue;
			used = 1;
			if (pmd_present(val) && !pmd_leaf(val))
				ptes++;
		}
		tables += ptes + used;
		cond_resched();
	}
	return tables << PAGE_SHIFT;
}

void mshare_region_stat(struct mshare_region *r, struct mshare_stat *st)
{
	struct mm_struct *rmm = r->mm;
	long attach = atomic_read(&r->nr_attach);
	unsigned long addr, need = 0;

	memset(st, 0, sizeof(*st));
	st->size = mshare_region_size(r);
	st->attachments = attach;
	st->processes = mshare_region_pids(r, NULL, 0);
	st->mappings = READ_ONCE(rmm->map_count);
	st->resident = (u64)mshare_resident_pages(rmm) << PAGE_SHIFT;
	st->pgtable = mm_pgtables_bytes(rmm);
	/*
	 * What the attachments would need without mshare: each GiB's tables
	 * once for every attachment that maps it (all of the region, or a
	 * window).
	 */
	for (addr = MSHARE_BASE; attach > 0 && addr < MSHARE_BASE + st->size;
	     addr += PUD_SIZE) {
		unsigned int n = mshare_region_sharers_at(r, addr);

		if (n)
			need += n * mshare_pgtable_needed(rmm, addr,
							  addr + PUD_SIZE);
	}
	if (need > st->pgtable)
		st->pgtable_saved = need - st->pgtable;
}

/* The stats as text, the attached pids, then one line per mapping. */
void mshare_region_show(struct mshare_region *r, struct seq_buf *s)
{
	struct mm_struct *rmm = r->mm;
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	struct mshare_stat st;
	unsigned int i, n;
	pid_t *pids;

	vma_iter_init(&vmi, rmm, 0);
	mshare_region_stat(r, &st);
	seq_buf_printf(s, "size: %llu\nattachments: %llu\nmappings: %llu\n",
		       st.size, st.attachments, st.mappings);
	seq_buf_printf(s, "resident: %llu\npgtable: %llu\npgtable_saved: %llu\n",
		       st.resident, st.pgtable, st.pgtable_saved);
	seq_buf_printf(s, "processes: %llu\npids:", st.processes);
	n = st.processes;
	pids = n ? kmalloc_array(n, sizeof(*pids), GFP_KERNEL) : NULL;
	if (pids) {
		n = min(mshare_region_pids(r, pids, n), n);
		for (i = 0; i < n; i++)
			seq_buf_printf(s, " %d", pids[i]);
		kfree(pids);
	}
	seq_buf_putc(s, '\n');
	if (mmap_read_lock_killable(rmm))
		return;
	for_each_vma(vmi, vma) {
		seq_buf_printf(s, "mapping: %#lx-%#lx %c%c%c%c %s %#llx\n",
			       vma->vm_start - MSHARE_BASE,
			       vma->vm_end - MSHARE_BASE,
			       vma->vm_flags & VM_READ ? 'r' : '-',
			       vma->vm_flags & VM_WRITE ? 'w' : '-',
			       vma->vm_flags & VM_EXEC ? 'x' : '-',
			       vma->vm_flags & VM_SHARED ? 's' : 'p',
			       !vma->vm_file ? "anon" :
			       is_file_hugepages(vma->vm_file) ? "hugetlb" :
			       vma_is_shmem(vma) ? "shmem" : "file",
			       (u64)vma->vm_pgoff << PAGE_SHIFT);
	}
	mmap_read_unlock(rmm);
}

/* MSHAREFS_GET_PIDS */
long mshare_region_get_pids(struct mshare_region *r, struct mshare_pids __user *arg)
{
	struct mshare_pids mp;
	unsigned int n;
	pid_t *pids = NULL;
	long ret = 0;

	if (copy_from_user(&mp, arg, sizeof(mp)))
		return -EFAULT;
	if (mp.__reserved)
		return -EINVAL;
	mp.nr = min_t(u32, mp.nr, mshare_region_pids(r, NULL, 0));
	if (mp.nr) {
		pids = kvmalloc_array(mp.nr, sizeof(*pids), GFP_KERNEL);
		if (!pids)
			return -ENOMEM;
	}
	n = mshare_region_pids(r, pids, mp.nr);
	if (mp.nr && copy_to_user(u64_to_user_ptr(mp.pids), pids,
				  min(n, mp.nr) * sizeof(*pids)))
		ret = -EFAULT;
	kvfree(pids);
	mp.nr = n;
	if (!ret && copy_to_user(arg, &mp, sizeof(mp)))
		ret = -EFAULT;
	return ret;
}

SYSCALL_DEFINE2(mshare_create, size_t, size, unsigned int, flags)
{
	struct file *file;
	int fd;

	if (flags & ~MSHARE_CREATE_FLAGS)
		return -EINVAL;
	if (!mshare_size_ok(size))
		return -EINVAL;

	fd = get_unused_fd_flags(O_RDWR |
				 ((flags & MSHARE_CLOEXEC) ? O_CLOEXEC : 0));
	if (fd < 0)
		return fd;
	file = msharefs_create_unnamed(size, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	fd_install(fd, file);
	return fd;
}

#ifdef CONFIG_DEBUG_VM
/*
 * Prove the boundary's tripwire live (DEBUG_VM kernels, root only, through
 * vm.mshare_tripwire_selftest): link a PUD entry of a scratch mm to a
 * region's PMD table, as an attachment would, and map the PTE table below
 * it as a walker of that mm would if it crossed the boundary.  The
 * tripwire in pte_offset_map_nolock() (as in pte_offset_map_lock()) must
 * warn; the live gate test in make check writes this and expects that
 * WARNING in the guest log.  Then
 * free_pgd_range() of the scratch mm unlinks the entry (never freeing the
 * region's table), and everything is freed.
 */
static int mshare_tripwire_selftest(void)
{
	const unsigned long addr = MSHARE_BASE;	/* in both mms */
	struct mshare_region *r;
	struct mm_struct *smm;
	struct mmu_gather tlb;
	pud_t *rpud, *pud;
	spinlock_t *ptl;	/* the region PTE table's, through smm */
	p4d_t *p4d;
	pte_t *pte;
	int ret;

	r = mshare_region_alloc();
	if (!r)
		return -ENOMEM;
	smm = mm_alloc();
	if (!smm) {
		ret = -ENOMEM;
		goto free_region;
	}
	ret = mshare_region_set_size(r, PUD_SIZE);
	if (ret)
		goto free_mm;
	/* A PTE table in the region, as a fault in it would make. */
	mmap_write_lock(r->mm);
	rpud = pud_offset(p4d_offset(pgd_offset(r->mm, addr), addr), addr);
	ret = pte_alloc(r->mm, pmd_offset(rpud, addr)) ? -ENOMEM : 0;
	mmap_write_unlock(r->mm);
	if (ret)
		goto free_mm;

	mmap_write_lock(smm);
	p4d = p4d_alloc(smm, pgd_offset(smm, addr), addr);
	pud = p4d ? pud_alloc(smm, p4d, addr) : NULL;
	if (pud) {
		set_pud(pud, *rpud);
		/* _nolock: no lock taken only on success (sparse context) */
		pte = pte_offset_map_nolock(smm, pmd_offset(pud, addr), addr,
					    &ptl);
		if (pte) {
			__acquire(RCU);	/* for sparse: taken inside, out of line */
			pte_unmap(pte);
		}
		tlb_gather_mmu(&tlb, smm);
		free_pgd_range(&tlb, addr, addr + PUD_SIZE, FIRST_USER_ADDRESS,
			       USER_PGTABLES_CEILING);
		tlb_finish_mmu(&tlb);
	}
	mmap_write_unlock(smm);
	ret = pud ? 0 : -ENOMEM;
free_mm:
	mmput(smm);
free_region:
	mshare_region_free(r);
	return ret;
}
#endif

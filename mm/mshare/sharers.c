// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: a region's sharers.
 *
 * Every attachment is on its region's list of sharers, with the sharer's
 * mm, where the attachment starts and the region address it maps there.
 * The list is what a change of the region's page tables reaches:
 *
 *  - TLB flushes.  The region's mm runs on no CPU.  A flush of a region
 *    range flushes that range, translated, in the mm of every sharer whose
 *    attachment maps it (flush_tlb_mm_range()), and the architecture's
 *    per-mm machinery does the rest: mm_cpumask() picks the CPUs that run
 *    the sharer, tlb_gen brings lazy CPUs and other PCIDs up to date when
 *    they switch back, freed tables reach lazy CPUs too.  CPUs that run no
 *    sharer get nothing.  One flush costs one flush_tlb_mm_range() per
 *    sharer of the range.  Reclaim's batched flushes add each sharer's mm
 *    to the batch, as for an mm of its own.
 *  - Secondary MMUs.  The region's mm has one mmu notifier, the region's,
 *    which forwards every invalidation and every young-bit query to the
 *    notifier subscribers of each sharer's mm, with the range translated.
 *    An mm cannot gain notifier subscriptions while it has attachments
 *    (mshare_mm_attached(), __mmu_notifier_register() gives -EBUSY), so
 *    that forwarded starts and ends pair up: register first, then attach.
 *  - Accounting: a sharer's smaps, RssMshare and OOM badness, and the
 *    region's list of attached processes.
 *
 * Locking.  r->sharers_lock, a spinlock, protects the list.  It is taken
 * inside the region's page-table locks (flushes under the PTL) and nothing
 * but the flushes' IPIs is waited for inside it: flush_tlb_mm_range() runs
 * with interrupts enabled there, as it does under a PTL.  A lock and not
 * RCU: a sharer's mm must stay valid while it is flushed, and an
 * attachment leaves the list (vm_ops->close) before its mm can be freed,
 * after the attachment's PUD entries are unlinked and flushed
 * (free_pgtables(), which every unmap runs before closing).  So removal
 * under the lock is the whole lifetime rule.
 *
 * Invalidations must reach each sharer in pairs, start and end, so a
 * sharer may not join or leave between the two: r->inflight counts the
 * region's invalidations between start and end, and joining or leaving
 * waits until it is zero.  Invalidations never wait for a joiner (one that
 * nests in another, reclaim under a zap, just counts again): a recursive
 * read lock, which mshare_sharers_map tells lockdep.
 *
 *   sharer mmap_lock (attach, fork, detach, exit)
 *     waiting for r->inflight == 0 (mshare_sharers_map, write)
 *       r->sharers_lock
 *   region mmap_lock, folio lock, i_mmap_rwsem... (an invalidation)
 *     mshare_sharers_map (recursive read), from start to end
 *       each sharer's notifier subscribers
 *   region PTL (a flush)
 *     r->sharers_lock
 */
#include <linux/hashtable.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>
#include <asm/tlbflush.h>
#include "mshare.h"

#ifdef CONFIG_LOCKDEP
static struct lock_class_key mshare_sharers_key;
static struct lockdep_map mshare_sharers_map =
	STATIC_LOCKDEP_MAP_INIT("mshare_sharers", &mshare_sharers_key);
#endif

/*
 * Every region, by its mm: flushes and the memcg hook find the region of a
 * region mm here.  RCU readers; a region is freed after a grace period.
 */
DEFINE_XARRAY(mshare_regions);

/* Every attachment, by its sharer's mm: what an mm has attached. */
static DEFINE_HASHTABLE(mshare_mms, 8);
static DEFINE_SPINLOCK(mshare_mms_lock);

static struct mshare_region *mshare_mm_region(struct mm_struct *rmm)
{
	return xa_load(&mshare_regions, (unsigned long)rmm);
}

/*
 * The part of region range [@start, @end) that @s maps, in @s's mm, in
 * [*@sstart, *@send); false if @s maps none of it.
 */
static bool mshare_sharer_range(struct mshare_sharer *s, unsigned long start,
				unsigned long end, unsigned long *sstart,
				unsigned long *send)
{
	unsigned long rend = s->rstart + (s->end - s->start);

	start = max(start, s->rstart);
	end = min(end, rend);
	if (start >= end)
		return false;
	*sstart = s->start + (start - s->rstart);
	*send = s->start + (end - s->rstart);
	return true;
}

/* Wait until no invalidation of @r is between start and end; lock the list. */
static void mshare_sharers_lock_quiet(struct mshare_region *r)
	__acquires(&r->sharers_lock)
{
	lock_map_acquire(&mshare_sharers_map);
	for (;;) {
		wait_var_event(&r->inflight, !READ_ONCE(r->inflight));
		spin_lock(&r->sharers_lock);
		if (!r->inflight)
			break;
		spin_unlock(&r->sharers_lock);
	}
}

static void mshare_sharers_unlock_quiet(struct mshare_region *r)
	__releases(&r->sharers_lock)
{
	spin_unlock(&r->sharers_lock);
	lock_map_release(&mshare_sharers_map);
}

/*
 * Attachment @vma joins its region's sharers, before it links any table:
 * from then on, every flush and invalidation of the region reaches its mm.
 * 0 or -ENOMEM.  The caller holds @vma's mm's mmap_lock for writing.
 */
int mshare_sharer_add(struct vm_area_struct *vma, gfp_t gfp)
{
	struct mshare_region *r = mshare_vma_region(vma);
	struct mshare_sharer *s;

	s = kmalloc(sizeof(*s), gfp);
	if (!s)
		return -ENOMEM;
	s->mm = vma->vm_mm;
	s->region = r;
	s->start = vma->vm_start;
	s->end = vma->vm_end;
	s->rstart = mshare_region_addr(vma, vma->vm_start);
	vma->vm_private_data = s;

	mshare_sharers_lock_quiet(r);
	list_add_tail(&s->node, &r->sharers);
	atomic_inc(&r->nr_attach);
	mshare_sharers_unlock_quiet(r);

	spin_lock(&mshare_mms_lock);
	hash_add(mshare_mms, &s->mm_node, (unsigned long)s->mm);
	spin_unlock(&mshare_mms_lock);
	return 0;
}

/*
 * Attachment @vma leaves its region's sharers: its PUD entries are
 * unlinked and flushed already (see above).
 */
void mshare_sharer_del(struct vm_area_struct *vma)
{
	struct mshare_sharer *s = vma->vm_private_data;
	struct mshare_region *r = s->region;

	spin_lock(&mshare_mms_lock);
	hash_del(&s->mm_node);
	spin_unlock(&mshare_mms_lock);

	mshare_sharers_lock_quiet(r);
	list_del(&s->node);
	atomic_dec(&r->nr_attach);
	mshare_sharers_unlock_quiet(r);
	vma->vm_private_data = NULL;
	kfree(s);
}

/* Has @mm any attachment?  Its notifier subscriptions may not change then. */
bool mshare_mm_attached(struct mm_struct *mm)
{
	struct mshare_sharer *s;
	bool ret = false;

	spin_lock(&mshare_mms_lock);
	hash_for_each_possible(mshare_mms, s, mm_node, (unsigned long)mm)
		if (s->mm == mm) {
			ret = true;
			break;
		}
	spin_unlock(&mshare_mms_lock);
	return ret;
}

/* Resident pages of region @r: the counters, not summed across CPUs. */
static unsigned long mshare_resident_fast(struct mshare_region *r)
{
	struct mm_struct *rmm = r->mm;
	unsigned long pages = get_mm_counter(rmm, MM_ANONPAGES) +
			      get_mm_counter(rmm, MM_FILEPAGES) +
			      get_mm_counter(rmm, MM_SHMEMPAGES);

#ifdef CONFIG_HUGETLB_PAGE
	pages += atomic_long_read(&rmm->hugetlb_usage);
#endif
	return pages;
}

/*
 * The region pages that @mm reaches through its attachments, counted once
 * per attachment, as RSS counts a page once per PTE that maps it
 * (RssMshare, and so VmRSS), a window's attachment its part of the
 * region's pages in proportion to the window's size; or, with @share, each
 * attachment's share, that divided by the region's attachments (OOM
 * badness: what killing @mm's processes would give back, on average).
 * Never sleeps: oom_badness() calls it under task_lock().
 */
unsigned long __mshare_mm_rss(struct mm_struct *mm, bool share)
{
	unsigned long pages = 0;
	struct mshare_sharer *s;

	spin_lock(&mshare_mms_lock);
	hash_for_each_possible(mshare_mms, s, mm_node, (unsigned long)mm) {
		unsigned long n;

		if (s->mm != mm)
			continue;
		n = mshare_resident_fast(s->region);
		/* A window: its part of the region, pro rata (see mshare.7) */
		n = mult_frac(n, (s->end - s->start) >> PAGE_SHIFT,
			      max(mshare_region_size(s->region) >> PAGE_SHIFT,
				  1UL));
		if (share)
			n /= max(atomic_read(&s->region->nr_attach), 1);
		pages += n;
	}
	spin_unlock(&mshare_mms_lock);
	return pages;
}

/* How many attachments of @r map region address @raddr. */
unsigned int mshare_region_sharers_at(struct mshare_region *r,
				      unsigned long raddr)
{
	struct mshare_sharer *s;
	unsigned long ss, se;
	unsigned int n = 0;

	spin_lock(&r->sharers_lock);
	list_for_each_entry(s, &r->sharers, node)
		if (mshare_sharer_range(s, raddr, raddr + 1, &ss, &se))
			n++;
	spin_unlock(&r->sharers_lock);
	return n;
}

/* How many attachments share each page of attachment @vma's region. */
int mshare_vma_sharers(struct vm_area_struct *vma)
{
	return max(atomic_read(&mshare_vma_region(vma)->nr_attach), 1);
}

/*
 * The processes attached to @r: their thread-group ids in the caller's pid
 * namespace, up to @nr of them in @pids (which may be NULL), each once.
 * Returns how many there are, which may be more than @nr.
 */
unsigned int mshare_region_pids(struct mshare_region *r, pid_t *pids,
				unsigned int nr)
{
	struct mshare_sharer *s, *t;
	unsigned int n = 0;

	spin_lock(&r->sharers_lock);
	list_for_each_entry(s, &r->sharers, node) {
		struct task_struct *owner;
		pid_t pid;

		/* each process once: its first attachment on the list */
		list_for_each_entry(t, &r->sharers, node)
			if (t == s || t->mm == s->mm)
				break;
		if (t != s)
			continue;
		rcu_read_lock();
		owner = rcu_dereference(s->mm->owner);
		pid = owner ? task_tgid_vnr(owner) : 0;
		rcu_read_unlock();
		if (!pid)
			continue;	/* outside the caller's namespace */
		if (pids && n < nr)
			pids[n] = pid;
		n++;
	}
	spin_unlock(&r->sharers_lock);
	return n;
}

/*
 * flush_tlb_mm_range() of region @rmm: flush the range in every sharer
 * that maps it, in the sharer's own mm.
 */
void mshare_flush_tlb_range(struct mm_struct *rmm, unsigned long start,
			    unsigned long end, unsigned int stride_shift,
			    bool freed_tables)
{
	struct mshare_region *r;
	struct mshare_sharer *s;
	unsigned long ss, se;

	rcu_read_lock();
	r = mshare_mm_region(rmm);
	if (r) {
		spin_lock(&r->sharers_lock);
		list_for_each_entry(s, &r->sharers, node)
			if (mshare_sharer_range(s, start, end, &ss, &se))
				flush_tlb_mm_range(s->mm, ss, se, stride_shift,
						   freed_tables);
		spin_unlock(&r->sharers_lock);
	}
	rcu_read_unlock();
}

/*
 * Reclaim unmapped a page of region @rmm at @uaddr and batches the flush
 * (should_defer_flush()): add every sharer that maps @uaddr to the batch,
 * as arch_tlbbatch_add_pending() adds an mm of its own.  The batch's
 * flush reaches the union of their CPUs, and tlb_gen the rest.
 */
void mshare_tlbbatch_add_pending(struct arch_tlbflush_unmap_batch *batch,
				 struct mm_struct *rmm, unsigned long uaddr)
{
	struct mshare_region *r;
	struct mshare_sharer *s;
	unsigned long ss, se;

	rcu_read_lock();
	r = mshare_mm_region(rmm);
	if (r) {
		spin_lock(&r->sharers_lock);
		list_for_each_entry(s, &r->sharers, node)
			if (mshare_sharer_range(s, uaddr, uaddr + 1, &ss, &se))
				arch_tlbbatch_add_pending(batch, s->mm, ss);
		spin_unlock(&r->sharers_lock);
	}
	rcu_read_unlock();
}

/* Should reclaim batch the flush of a page of region @rmm?  As for an mm. */
bool mshare_tlbbatch_should_defer(struct mm_struct *rmm)
{
	struct mshare_region *r;
	struct mshare_sharer *s;
	bool defer = false;

	rcu_read_lock();
	r = mshare_mm_region(rmm);
	if (r) {
		spin_lock(&r->sharers_lock);
		list_for_each_entry(s, &r->sharers, node)
			if (arch_tlbbatch_should_defer(s->mm)) {
				defer = true;
				break;
			}
		spin_unlock(&r->sharers_lock);
	}
	rcu_read_unlock();
	return defer;
}

/* The region's mmu notifier: forwards to the sharers' subscribers. */

static struct mshare_region *mn_region(struct mmu_notifier *mn)
{
	return container_of(mn, struct mshare_region, mn);
}

/* @range of the region, as @s's mm sees it, in @sub; false if outside @s. */
static bool mshare_sub_range(struct mmu_notifier_range *sub,
			     const struct mmu_notifier_range *range,
			     struct mshare_sharer *s)
{
	if (!mm_has_notifiers(s->mm))
		return false;
	*sub = *range;
	sub->mm = s->mm;
	return mshare_sharer_range(s, range->start, range->end, &sub->start,
				   &sub->end);
}

static void mshare_mn_end(struct mshare_region *r,
			  const struct mmu_notifier_range *range,
			  struct mshare_sharer *last)
{
	struct mmu_notifier_range sub;
	struct mshare_sharer *s;

	/* The list is as it was at start: nobody joins or leaves meanwhile. */
	list_for_each_entry(s, &r->sharers, node) {
		if (s == last)
			break;
		if (mshare_sub_range(&sub, range, s))
			mmu_notifier_forward_range_end(&sub);
	}
	lock_map_release(&mshare_sharers_map);
	spin_lock(&r->sharers_lock);
	if (!--r->inflight) {
		/* wake_up_var() looks for waiters locklessly */
		smp_mb();
		wake_up_var(&r->inflight);
	}
	spin_unlock(&r->sharers_lock);
}

static int
mshare_mn_invalidate_range_start(struct mmu_notifier *mn,
				 const struct mmu_notifier_range *range)
{
	struct mshare_region *r = mn_region(mn);
	struct mmu_notifier_range sub;
	struct mshare_sharer *s;
	int ret;

	spin_lock(&r->sharers_lock);
	r->inflight++;
	spin_unlock(&r->sharers_lock);
	lock_map_acquire_read(&mshare_sharers_map);
	list_for_each_entry(s, &r->sharers, node) {
		if (!mshare_sub_range(&sub, range, s))
			continue;
		/*
		 * Not mmu_notifier_invalidate_range_start(): the region's own
		 * start holds the lockdep map that it would take again.
		 */
		ret = __mmu_notifier_invalidate_range_start(&sub);
		if (ret) {
			/* a non-blocking start that would block: undo */
			mshare_mn_end(r, range, s);
			return ret;
		}
	}
	return 0;
}

static void
mshare_mn_invalidate_range_end(struct mmu_notifier *mn,
			       const struct mmu_notifier_range *range)
{
	mshare_mn_end(mn_region(mn), range, NULL);
}

/*
 * The young-bit calls come under the region's PTL: the list under its
 * spinlock, each sharer's subscribers asked for the translated range.
 */
static int mshare_mn_young(struct mshare_region *r, unsigned long start,
			   unsigned long end,
			   int (*young)(struct mm_struct *, unsigned long,
					unsigned long))
{
	struct mshare_sharer *s;
	unsigned long ss, se;
	int ret = 0;

	spin_lock(&r->sharers_lock);
	list_for_each_entry(s, &r->sharers, node)
		if (mm_has_notifiers(s->mm) &&
		    mshare_sharer_range(s, start, end, &ss, &se))
			ret |= young(s->mm, ss, se);
	spin_unlock(&r->sharers_lock);
	return ret;
}

static int mshare_mn_clear_flush_young(struct mmu_notifier *mn,
				       struct mm_struct *rmm,
				       unsigned long start, unsigned long end)
{
	return mshare_mn_young(mn_region(mn), start, end,
			       __mmu_notifier_clear_flush_young);
}

static int mshare_mn_clear_young(struct mmu_notifier *mn,
				 struct mm_struct *rmm,
				 unsigned long start, unsigned long end)
{
	return mshare_mn_young(mn_region(mn), start, end,
			       __mmu_notifier_clear_young);
}

static int mshare_test_young(struct mm_struct *mm, unsigned long start,
			     unsigned long end)
{
	return __mmu_notifier_test_young(mm, start);
}

static int mshare_mn_test_young(struct mmu_notifier *mn, struct mm_struct *rmm,
				unsigned long address)
{
	return mshare_mn_young(mn_region(mn), address, address + 1,
			       mshare_test_young);
}

/* The region's notifier is embedded in the region: see mshare_region_alloc(). */
static struct mmu_notifier *mshare_mn_alloc(struct mm_struct *rmm)
{
	struct mshare_region *r = mshare_mm_region(rmm);

	return r ? &r->mn : ERR_PTR(-EINVAL);
}

/* After the SRCU grace period of mmu_notifier_put(): free the region. */
static void mshare_mn_free(struct mmu_notifier *mn)
{
	kfree_rcu(mn_region(mn), rcu);
}

static const struct mmu_notifier_ops mshare_mn_ops = {
	.invalidate_range_start = mshare_mn_invalidate_range_start,
	.invalidate_range_end = mshare_mn_invalidate_range_end,
	.clear_flush_young = mshare_mn_clear_flush_young,
	.clear_young = mshare_mn_clear_young,
	.test_young = mshare_mn_test_young,
	.alloc_notifier = mshare_mn_alloc,
	.free_notifier = mshare_mn_free,
};

/* Give region @r, in mshare_regions already, its notifier. */
int mshare_sharers_init(struct mshare_region *r)
{
	struct mmu_notifier *mn;

	spin_lock_init(&r->sharers_lock);
	INIT_LIST_HEAD(&r->sharers);
	mn = mmu_notifier_get(&mshare_mn_ops, r->mm);
	return PTR_ERR_OR_ZERO(mn);
}

/* Drop region @r's notifier; that frees @r, after a grace period. */
void mshare_sharers_exit(struct mshare_region *r)
{
	mmu_notifier_put(&r->mn);
}

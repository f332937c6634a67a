// SPDX-License-Identifier: GPL-2.0
/*
 * mshare regions: mshare_create(), the region file, attaching and detaching.
 *
 * A region's lifetime is its inode's: every fd, every attachment (through
 * vma->vm_file) and, with msharefs, every name holds the inode, and the
 * region is torn down when the inode is evicted.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/mman.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/syscalls.h>
#include <uapi/linux/mshare.h>
#include "mshare.h"

static struct vfsmount *mshare_mnt __ro_after_init;

DEFINE_STATIC_KEY_FALSE(mshare_in_use);

/*
 * Region mmap_locks nest inside process mmap_locks (a fault on an
 * attachment takes the process's lock, then the region's); a class of their
 * own lets lockdep check that nothing takes them the other way round.
 */
static struct lock_class_key mshare_mmap_lock_key;

static const struct file_operations mshare_fops;

bool is_mshare_file(struct file *file)
{
	return file->f_op == &mshare_fops;
}

static struct mshare_region *mshare_region_alloc(unsigned long size)
{
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
	r->size = size;
	return r;
}

static void mshare_region_free(struct mshare_region *r)
{
	if (WARN_ON_ONCE(atomic_read(&r->nr_attach)))
		return;		/* leak rather than free tables still linked */
	/*
	 * Nothing is attached, so no process links to the region's tables
	 * and no CPU can hold a translation through them: let exit_mmap()
	 * free every level like in any other mm.
	 */
	clear_bit(MMF_MSHARE, &r->mm->flags);
	mmput(r->mm);
	kfree(r);
}

/* vm_ops of an attachment (a VMA of the attaching process) */

static void mshare_vm_open(struct vm_area_struct *vma)
{
	/* fork() duplicates an attachment; splitting is refused */
	atomic_inc(&mshare_vma_region(vma)->nr_attach);
}

static void mshare_vm_close(struct vm_area_struct *vma)
{
	atomic_dec(&mshare_vma_region(vma)->nr_attach);
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

static const char *mshare_vm_name(struct vm_area_struct *vma)
{
	return "[mshare]";
}

static const struct vm_operations_struct mshare_vm_ops = {
	.open = mshare_vm_open,
	.close = mshare_vm_close,
	.may_split = mshare_vm_may_split,
	.fault = mshare_vm_fault,
	.name = mshare_vm_name,
};

/* Attach: mmap() of the whole region, MAP_SHARED, at a PUD-aligned address. */
static int mshare_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mshare_region *r = mshare_file_region(file);

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != r->size)
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
	vma->vm_ops = &mshare_vm_ops;
	atomic_inc(&r->nr_attach);
	return 0;
}

static unsigned long mshare_get_unmapped_area(struct file *file,
					      unsigned long addr,
					      unsigned long len,
					      unsigned long pgoff,
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

static const struct file_operations mshare_fops = {
	.mmap = mshare_file_mmap,
	.get_unmapped_area = mshare_get_unmapped_area,
	.llseek = noop_llseek,
};

static void mshare_evict_inode(struct inode *inode)
{
	struct mshare_region *r = inode->i_private;

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (r)
		mshare_region_free(r);
}

static const struct super_operations mshare_sops = {
	.statfs = simple_statfs,
	.evict_inode = mshare_evict_inode,
};

static int mshare_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, MSHARE_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->ops = &mshare_sops;
	return 0;
}

static struct file_system_type mshare_anon_fs = {
	.name = "mshare_anon",
	.init_fs_context = mshare_init_fs_context,
	.kill_sb = kill_anon_super,
};

static struct file *mshare_file_create(unsigned long size)
{
	struct mshare_region *r;
	struct inode *inode;
	struct file *file;

	r = mshare_region_alloc(size);
	if (!r)
		return ERR_PTR(-ENOMEM);
	inode = alloc_anon_inode(mshare_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		mshare_region_free(r);
		return ERR_CAST(inode);
	}
	inode->i_mode |= S_IFREG;
	inode->i_size = size;
	inode->i_private = r;	/* from here on, iput() frees the region */
	file = alloc_file_pseudo(inode, mshare_mnt, "mshare", O_RDWR,
				 &mshare_fops);
	if (IS_ERR(file))
		iput(inode);
	return file;
}

SYSCALL_DEFINE2(mshare_create, size_t, size, unsigned int, flags)
{
	struct file *file;
	int fd;

	if (flags & ~MSHARE_CREATE_FLAGS)
		return -EINVAL;
	if (!size || !IS_ALIGNED(size, PUD_SIZE) || size > MSHARE_MAX_SIZE)
		return -EINVAL;

	static_branch_enable(&mshare_in_use);
	fd = get_unused_fd_flags(O_RDWR |
				 ((flags & MSHARE_CLOEXEC) ? O_CLOEXEC : 0));
	if (fd < 0)
		return fd;
	file = mshare_file_create(size);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	fd_install(fd, file);
	return fd;
}

static int __init mshare_init(void)
{
	mshare_mnt = kern_mount(&mshare_anon_fs);
	return PTR_ERR_OR_ZERO(mshare_mnt);
}
fs_initcall(mshare_init);

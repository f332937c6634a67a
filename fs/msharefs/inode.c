// SPDX-License-Identifier: GPL-2.0
/*
 * msharefs: the filesystem of mshare regions, mounted at /sys/fs/mshare.
 *
 * There is one superblock per boot: every mount shows the same regions, and
 * regions from mshare_create() are unnamed inodes of the same superblock,
 * on the kernel's own mount.  The root directory holds region files and
 * "mshare_info".  See include/uapi/linux/msharefs.h for the interface.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/mshare.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/seq_buf.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <uapi/linux/msharefs.h>

static struct vfsmount *msharefs_mnt __ro_after_init;

static const struct file_operations msharefs_region_fops;
static const struct inode_operations msharefs_region_iops;

bool is_mshare_file(struct file *file)
{
	return file->f_op == &msharefs_region_fops;
}

struct mshare_region *mshare_file_region(struct file *file)
{
	return file_inode(file)->i_private;
}

/* A new region inode, with its region; unnamed until linked. */
static struct inode *msharefs_new_region(struct super_block *sb,
					 struct inode *dir, umode_t mode)
{
	struct mshare_region *r = mshare_region_alloc();
	struct inode *inode;

	if (!r)
		return ERR_PTR(-ENOMEM);
	inode = new_inode(sb);
	if (!inode) {
		mshare_region_free(r);
		return ERR_PTR(-ENOMEM);
	}
	inode->i_ino = get_next_ino();
	inode_init_owner(&nop_mnt_idmap, inode, dir, S_IFREG | (mode & 0777));
	simple_inode_init_ts(inode);
	inode->i_op = &msharefs_region_iops;
	inode->i_fop = &msharefs_region_fops;
	inode->i_private = r;	/* from here on, eviction frees the region */
	return inode;
}

static int msharefs_set_size(struct inode *inode, loff_t size)
{
	int ret = mshare_region_set_size(inode->i_private, size);

	if (!ret)
		i_size_write(inode, mshare_region_size(inode->i_private));
	return ret;
}

/* Region files */

static int msharefs_region_setattr(struct mnt_idmap *idmap,
				   struct dentry *dentry, struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int ret;

	ret = setattr_prepare(idmap, dentry, attr);
	if (ret)
		return ret;
	/* O_TRUNC changes nothing: the size is set once, and not to 0. */
	if ((attr->ia_valid & (ATTR_SIZE | ATTR_OPEN)) == ATTR_SIZE) {
		ret = msharefs_set_size(inode, attr->ia_size);
		if (ret)
			return ret;
	}
	setattr_copy(idmap, inode, attr);
	return 0;
}

static const struct inode_operations msharefs_region_iops = {
	.setattr = msharefs_region_setattr,
	.getattr = simple_getattr,
};

static long msharefs_fallocate(struct file *file, int mode, loff_t offset,
			       loff_t len)
{
	struct inode *inode = file_inode(file);
	int ret;

	if (mode || offset)
		return -EOPNOTSUPP;
	inode_lock(inode);
	ret = msharefs_set_size(inode, len);
	inode_unlock(inode);
	return ret;
}

static ssize_t msharefs_region_read(struct file *file, char __user *buf,
				    size_t count, loff_t *ppos)
{
	struct mshare_region *r = mshare_file_region(file);
	struct seq_buf s;
	ssize_t ret;
	char *text;

	text = kvmalloc(SZ_64K, GFP_KERNEL);
	if (!text)
		return -ENOMEM;
	seq_buf_init(&s, text, SZ_64K);
	mshare_region_show(r, &s);
	ret = simple_read_from_buffer(buf, count, ppos, text, seq_buf_used(&s));
	kvfree(text);
	return ret;
}

/*
 * MSHAREFS_LINK: name a region that has no name, as mshare_create() makes.
 * The name takes the caller's ownership and mode, so it needs an fd that
 * may already write the region; a named region gets more names by link(2).
 */
static long msharefs_link(struct file *file, struct mshare_link __user *arg)
{
	struct inode *inode = file_inode(file), *dir;
	struct dentry *root, *dentry;
	struct mshare_link ml;
	size_t len;
	long ret;

	if (!(file->f_mode & FMODE_WRITE))
		return -EACCES;
	if (copy_from_user(&ml, arg, sizeof(ml)))
		return -EFAULT;
	len = strnlen(ml.name, sizeof(ml.name));
	if (ml.__reserved || !len || len == sizeof(ml.name) ||
	    strchr(ml.name, '/') || !strcmp(ml.name, ".") ||
	    !strcmp(ml.name, ".."))
		return -EINVAL;
	ml.mode &= 0777;

	root = msharefs_mnt->mnt_root;
	dir = d_inode(root);
	inode_lock_nested(dir, I_MUTEX_PARENT);
	dentry = lookup_one_len(ml.name, root, len);
	if (IS_ERR(dentry)) {
		ret = PTR_ERR(dentry);
		goto unlock;
	}
	ret = -EEXIST;
	if (d_really_is_positive(dentry))
		goto put;
	ret = inode_permission(&nop_mnt_idmap, dir, MAY_WRITE | MAY_EXEC);
	if (ret)
		goto put;

	/* The name is the caller's, with the mode it asks for. */
	inode_lock(inode);
	if (inode->i_nlink) {
		inode_unlock(inode);
		ret = -EBUSY;	/* named already */
		goto put;
	}
	inode->i_uid = current_fsuid();
	inode->i_gid = current_fsgid();
	inode->i_mode = S_IFREG | (ml.mode & ~current_umask());
	inode_set_ctime_current(inode);
	/*
	 * From no link to one: set_nlink(), not inc_nlink(), which warns on
	 * an inode without I_LINKABLE (a region whose names were unlinked).
	 */
	set_nlink(inode, 1);
	inode_unlock(inode);
	ihold(inode);
	d_instantiate(dentry, inode);
	dget(dentry);	/* pinned in the dcache, like any name here */
	inode_set_mtime_to_ts(dir, inode_set_ctime_current(dir));
	ret = 0;
put:
	dput(dentry);
unlock:
	inode_unlock(dir);
	return ret;
}

static long msharefs_region_ioctl(struct file *file, unsigned int cmd,
				  unsigned long arg)
{
	struct mshare_region *r = mshare_file_region(file);
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MSHAREFS_CREATE_MAPPING: {
		struct mshare_create mc;

		if (!(file->f_mode & FMODE_WRITE))
			return -EACCES;
		if (copy_from_user(&mc, uarg, sizeof(mc)))
			return -EFAULT;
		return mshare_region_create_mapping(r, &mc);
	}
	case MSHAREFS_UNMAP: {
		struct mshare_unmap mu;

		if (!(file->f_mode & FMODE_WRITE))
			return -EACCES;
		if (copy_from_user(&mu, uarg, sizeof(mu)))
			return -EFAULT;
		return mshare_region_unmap(r, mu.region_offset, mu.size);
	}
	case MSHAREFS_LINK:
		return msharefs_link(file, uarg);
	case MSHAREFS_GET_STAT: {
		struct mshare_stat st;

		mshare_region_stat(r, &st);
		return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
	}
	case MSHAREFS_GET_PIDS:
		return mshare_region_get_pids(r, uarg);
	default:
		return -ENOTTY;
	}
}

/* Write back the files mapped in the region (msync() of an attachment) */
static int msharefs_fsync(struct file *file, loff_t start, loff_t end,
			  int datasync)
{
	return mshare_region_fsync(mshare_file_region(file), start, end,
				   datasync);
}

static const struct file_operations msharefs_region_fops = {
	.mmap = mshare_region_mmap,
	.get_unmapped_area = mshare_get_unmapped_area,
	.unlocked_ioctl = msharefs_region_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read = msharefs_region_read,
	.fallocate = msharefs_fallocate,
	.fsync = msharefs_fsync,
	.llseek = generic_file_llseek,
};

/* The root directory */

static int msharefs_create(struct mnt_idmap *idmap, struct inode *dir,
			   struct dentry *dentry, umode_t mode, bool excl)
{
	struct inode *inode = msharefs_new_region(dir->i_sb, dir, mode);

	if (IS_ERR(inode))
		return PTR_ERR(inode);
	d_instantiate(dentry, inode);
	dget(dentry);	/* pinned in the dcache, like ramfs */
	inode_set_mtime_to_ts(dir, inode_set_ctime_current(dir));
	return 0;
}

/* Only regions have names to take away or give: mshare_info stays put. */
static bool msharefs_is_region_dentry(struct dentry *dentry)
{
	return d_really_is_negative(dentry) ||
	       d_inode(dentry)->i_fop == &msharefs_region_fops;
}

static int msharefs_unlink(struct inode *dir, struct dentry *dentry)
{
	if (!msharefs_is_region_dentry(dentry))
		return -EPERM;
	return simple_unlink(dir, dentry);
}

static int msharefs_rename(struct mnt_idmap *idmap, struct inode *old_dir,
			   struct dentry *old_dentry, struct inode *new_dir,
			   struct dentry *new_dentry, unsigned int flags)
{
	if (!msharefs_is_region_dentry(old_dentry) ||
	    !msharefs_is_region_dentry(new_dentry))
		return -EPERM;
	return simple_rename(idmap, old_dir, old_dentry, new_dir, new_dentry,
			     flags);
}

static int msharefs_hardlink(struct dentry *old_dentry, struct inode *dir,
			     struct dentry *dentry)
{
	if (!msharefs_is_region_dentry(old_dentry))
		return -EPERM;
	return simple_link(old_dentry, dir, dentry);
}

static const struct inode_operations msharefs_dir_iops = {
	.lookup = simple_lookup,
	.create = msharefs_create,
	.link = msharefs_hardlink,
	.unlink = msharefs_unlink,
	.rename = msharefs_rename,
};

static ssize_t msharefs_info_read(struct file *file, char __user *buf,
				  size_t count, loff_t *ppos)
{
	char text[32];
	int len = scnprintf(text, sizeof(text), "%lu\n", PUD_SIZE);

	return simple_read_from_buffer(buf, count, ppos, text, len);
}

static const struct file_operations msharefs_info_fops = {
	.read = msharefs_info_read,
	.llseek = default_llseek,
};

static void msharefs_evict_inode(struct inode *inode)
{
	struct mshare_region *r = S_ISREG(inode->i_mode) &&
				  inode->i_fop == &msharefs_region_fops ?
				  inode->i_private : NULL;

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (r)
		mshare_region_free(r);
}

static const struct super_operations msharefs_sops = {
	.statfs = simple_statfs,
	.drop_inode = generic_delete_inode,
	.evict_inode = msharefs_evict_inode,
};

static int msharefs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	static const struct tree_descr files[] = {
		[2] = { "mshare_info", &msharefs_info_fops, 0444 },
		{ "" },
	};
	struct inode *root;
	int ret;

	ret = simple_fill_super(sb, MSHAREFS_MAGIC, files);
	if (ret)
		return ret;
	sb->s_maxbytes = MAX_LFS_FILESIZE;	/* region sizes, in i_size */
	sb->s_op = &msharefs_sops;
	sb->s_time_gran = 1;
	root = d_inode(sb->s_root);
	/* Anyone may create regions; only owners may remove them. */
	root->i_mode = S_IFDIR | 01777;
	root->i_op = &msharefs_dir_iops;
	return 0;
}

static int msharefs_get_tree(struct fs_context *fc)
{
	return get_tree_single(fc, msharefs_fill_super);
}

static const struct fs_context_operations msharefs_context_ops = {
	.get_tree = msharefs_get_tree,
};

static int msharefs_init_fs_context(struct fs_context *fc)
{
	fc->ops = &msharefs_context_ops;
	return 0;
}

static struct file_system_type msharefs_type = {
	.owner = THIS_MODULE,
	.name = "msharefs",
	.init_fs_context = msharefs_init_fs_context,
	.kill_sb = kill_litter_super,
};

/* A region from mshare_create(): an unnamed inode on the kernel's mount. */
struct file *msharefs_create_unnamed(unsigned long size, int flags)
{
	struct super_block *sb = msharefs_mnt->mnt_sb;
	struct inode *inode;
	struct file *file;
	int ret;

	inode = msharefs_new_region(sb, NULL, 0600);
	if (IS_ERR(inode))
		return ERR_CAST(inode);
	/* Unnamed, like an O_TMPFILE: MSHAREFS_LINK may name it later. */
	clear_nlink(inode);
	spin_lock(&inode->i_lock);
	inode->i_state |= I_LINKABLE;
	spin_unlock(&inode->i_lock);
	ret = msharefs_set_size(inode, size);
	if (ret) {
		iput(inode);
		return ERR_PTR(ret);
	}
	file = alloc_file_pseudo(inode, msharefs_mnt, "mshare", flags,
				 &msharefs_region_fops);
	if (IS_ERR(file)) {
		iput(inode);
		return file;
	}
	/* As open() of a named region gives (do_dentry_open()): pread, lseek. */
	file->f_mode |= FMODE_LSEEK | FMODE_PREAD;
	return file;
}

static int __init msharefs_init(void)
{
	int ret;

	ret = sysfs_create_mount_point(fs_kobj, "mshare");
	if (ret)
		return ret;
	ret = register_filesystem(&msharefs_type);
	if (ret)
		goto remove;
	msharefs_mnt = kern_mount(&msharefs_type);
	if (IS_ERR(msharefs_mnt)) {
		ret = PTR_ERR(msharefs_mnt);
		goto unregister;
	}
	return 0;
unregister:
	unregister_filesystem(&msharefs_type);
remove:
	sysfs_remove_mount_point(fs_kobj, "mshare");
	return ret;
}
fs_initcall(msharefs_init);

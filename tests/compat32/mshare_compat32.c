// SPDX-License-Identifier: GPL-2.0
/*
 * A 32-bit (gcc -m32 -static) helper of mshare_boundary's
 * compat_last_reference test; not a test program itself.
 *
 *   mshare_compat32 /sys/fs/mshare/NAME
 *
 * Opens the named region O_RDWR, unlinks the name, writes 'R' to stdout,
 * waits for EOF on stdin, then closes the fd, which the test has made the
 * last reference to the region, and exits 0.  On failure it writes a
 * letter for the step ('O' open, 'U' unlink) and the errno, and exits 1.
 */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int fail(char step)
{
	int err = errno;

	if (write(1, &step, 1) == 1 && write(1, &err, sizeof(err)) < 0)
		return 1;
	return 1;
}

int main(int argc, char **argv)
{
	char c = 'R';
	int fd;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail('O');
	if (unlink(argv[1]))
		return fail('U');
	if (write(1, &c, 1) != 1)
		return 1;
	while (read(0, &c, 1) > 0)
		;
	/* The last reference: the region is freed here, in a 32-bit task. */
	if (close(fd))
		return 3;
	return 0;
}

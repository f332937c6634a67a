/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libmshare: passing region fds over Unix sockets (SCM_RIGHTS).
 *
 * A message is @len data bytes with exactly one fd riding on the first
 * chunk.  On a stream socket the data may arrive (or leave) in pieces;
 * both sides loop until all of it has gone through, retrying on EINTR.
 */
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "internal.h"

/* Room for more fds than a message should carry, to see the extras */
#define MAX_FDS		16

union cmsg_buf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
};

MSHARE_API int mshare_send_fd(int sock, int fd, const void *data, size_t len)
{
	MSHARE_KEEP_ERRNO;
	static const char zero;
	union cmsg_buf cb;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov;
	const char *p;
	size_t done;
	ssize_t n;

	if (!data) {
		if (len > 1)
			return -EINVAL;
		data = &zero;
		len = 1;
	}
	if (!len)
		return -EINVAL;
	if (sock < 0 || fd < 0)
		return -EBADF;

	p = data;
	memset(&cb, 0, sizeof(cb));
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cb.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));

	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return mshare__neg_errno();
	if (n == 0)
		return -EIO;

	/* The fd went with the first chunk; the rest is plain data. */
	for (done = (size_t)n; done < len; done += (size_t)n) {
		do {
			n = send(sock, p + done, len - done, MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			return mshare__neg_errno();
		if (n == 0)
			return -EIO;
	}
	return 0;
}

/*
 * Collect the SCM_RIGHTS fds of @msg into @fds (at most MAX_FDS);
 * returns how many.
 */
static int take_fds(struct msghdr *msg, int *fds)
{
	struct cmsghdr *c;
	int nr = 0;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t i, cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < cnt && nr < MAX_FDS; i++)
			memcpy(&fds[nr++], CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
	}
	return nr;
}

static void close_fds(const int *fds, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		close(fds[i]);
}

/* One recvmsg() into [@p, +@len), EINTR retried; fds go to @fds/@nr. */
static ssize_t recv_chunk(int sock, char *p, size_t len, int *fds, int *nr,
			  int *msg_flags)
{
	union cmsg_buf cb;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cb.buf;
	msg.msg_controllen = sizeof(cb.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return mshare__neg_errno();
	*nr = take_fds(&msg, fds);
	*msg_flags = msg.msg_flags;
	return n;
}

MSHARE_API int mshare_recv_fd(int sock, int *fd, void *data, size_t len)
{
	MSHARE_KEEP_ERRNO;
	int fds[MAX_FDS], nr, flags, type = SOCK_STREAM;
	socklen_t tlen = sizeof(type);
	char one, *p;
	size_t done;
	ssize_t n;

	if (!fd)
		return -EINVAL;
	if (!data) {
		if (len > 1)
			return -EINVAL;
		data = &one;
		len = 1;
	}
	if (!len)
		return -EINVAL;
	if (sock < 0)
		return -EBADF;
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tlen))
		return mshare__neg_errno();
	p = data;

	n = recv_chunk(sock, p, len, fds, &nr, &flags);
	if (n < 0)
		return (int)n;
	if ((flags & (MSG_CTRUNC | MSG_TRUNC)) || nr != 1 ||
	    (type != SOCK_STREAM && (size_t)n != len)) {
		close_fds(fds, nr);
		/* end of stream before anything: the peer is gone */
		return n == 0 && !nr ? -ECONNRESET : -EBADMSG;
	}

	for (done = (size_t)n; done < len; done += (size_t)n) {
		int more[MAX_FDS], nmore;

		n = recv_chunk(sock, p + done, len - done, more, &nmore, &flags);
		if (n < 0) {
			close(fds[0]);
			return (int)n;
		}
		if (nmore || (flags & MSG_CTRUNC)) {
			/* an fd in the middle of our data: not our message */
			close_fds(more, nmore);
			close(fds[0]);
			return -EBADMSG;
		}
		if (n == 0) {
			close(fds[0]);
			return -ECONNRESET;	/* the peer closed mid-message */
		}
	}
	*fd = fds[0];
	return 0;
}

/* mock_socket.c — what the mock does to a client's socket besides HTTP: wait while watching for the client leaving, and reset. */
#include "mock_socket.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include "mock_clock.h"

enum mock_wait mock_socket_wait(int fd, int stop_fd, long long ms)
{
	long long deadline = ms < 0 ? 0 : mock_clock_ms() + ms;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = fd, .events = POLLRDHUP },
			{ .fd = stop_fd, .events = POLLIN },
		};
		long long left = -1;
		int n;

		if (ms >= 0) {
			left = deadline - mock_clock_ms();
			if (left <= 0)
				return MOCK_WAIT_ELAPSED;
			if (left > INT_MAX)
				left = INT_MAX;
		}
		n = poll(pfd, 2, (int)left);
		if (n < 0 && errno != EINTR)
			return MOCK_WAIT_PEER_GONE;   /* cannot watch the socket: treat it as lost rather than spin */
		if (n <= 0)
			continue;
		if (pfd[1].revents)
			return MOCK_WAIT_STOPPING;
		if (pfd[0].revents)
			return MOCK_WAIT_PEER_GONE;
	}
}

void mock_socket_reset(int fd)
{
	struct linger linger = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	long long deadline = mock_clock_ms() + 200;
	int queued = 0;

	while (ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0 && mock_clock_ms() < deadline)
		poll(NULL, 0, 1);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
	/*
	 * connect(AF_UNSPEC) on a connected TCP socket is Linux's tcp_disconnect():
	 * an RST now, without closing fd under libmicrohttpd's feet. SO_LINGER 0
	 * covers kernels that refuse it: the eventual close() then sends the RST.
	 */
	connect(fd, &unspec, sizeof unspec);
}

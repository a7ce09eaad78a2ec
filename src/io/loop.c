/* loop.c — one thread's epoll set: each file descriptor's owner registers a callback and itself, the loop knows no kind of user. */
#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "invariant.h"

/* Events taken per epoll_wait; more wait for the next turn. */
#define LOOP_EVENTS 256

int loop_init(struct loop *l)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -1 : 0;
}

void loop_free(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

void loop_watch_init(struct loop_watch *w, loop_fn *fn, void *arg)
{
	w->fn = fn;
	w->arg = arg;
	w->fd = -1;
}

int loop_watch_fd(struct loop *l, struct loop_watch *w, int fd, uint32_t events)
{
	struct epoll_event ev;
	int op = w->fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, op, fd, &ev) != 0) {
		/* A descriptor number reused while its old registration is still
		 * there (or already gone, closed): the other operation fits. */
		bool mismatch = (op == EPOLL_CTL_ADD && errno == EEXIST) || (op == EPOLL_CTL_MOD && errno == ENOENT);

		if (!mismatch || epoll_ctl(l->epfd, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
			return -1;
	}
	w->fd = fd;
	return 0;
}

void loop_unwatch(struct loop *l, struct loop_watch *w)
{
	if (w->fd < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->fd = -1;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event events[LOOP_EVENTS];
	int n, i;

	n = epoll_wait(l->epfd, events, LOOP_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		struct loop_watch *w = events[i].data.ptr;

		DETOUR_ASSERT(w != NULL && w->fn != NULL);
		w->fn(w, events[i].events);
	}
	return n;
}

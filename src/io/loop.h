/* loop.h — one thread's epoll set: each file descriptor's owner registers a callback and itself, the loop knows no kind of user. */
#ifndef DETOUR_LOOP_H
#define DETOUR_LOOP_H

#include <stdint.h>

struct loop_watch;

/* Called with the epoll events (EPOLLIN, EPOLLRDHUP, ...) seen on the watch's fd. */
typedef void loop_fn(struct loop_watch *w, uint32_t events);

/*
 * Embedded in its owner (as redis's aeFileEvent is a callback and its
 * clientData): the epoll data is the address of the watch, so the watch must
 * stay valid until the end of the batch in which it was removed (an event
 * later in the same batch may still name it).
 */
struct loop_watch {
	loop_fn *fn;
	void *arg;                   /* the owner, for fn */
	int fd;                      /* -1 while not registered */
};

struct loop {
	int epfd;
};

/* Creates the epoll set. Returns 0, or -1 with errno set. */
int loop_init(struct loop *l);

/* Closes the epoll set; harmless on a loop that failed to start. */
void loop_free(struct loop *l);

void loop_watch_init(struct loop_watch *w, loop_fn *fn, void *arg);

/* Registers fd for events under w (or changes the events when w already
 * watches fd). Returns 0, or -1 with errno set (w is left as it was). */
int loop_watch_fd(struct loop *l, struct loop_watch *w, int fd, uint32_t events);

/* Removes w's fd from the set; harmless when w watches nothing. A closed fd
 * has left the set already: the failed epoll_ctl is expected and ignored. */
void loop_unwatch(struct loop *l, struct loop_watch *w);

/* Waits up to timeout_ms (-1: no limit) and calls the callback of every
 * watch that saw events (up to 256 per call; the rest wait for the next).
 * Returns how many, or -1 with errno set (EINTR counts as 0). */
int loop_run_once(struct loop *l, int timeout_ms);

#endif

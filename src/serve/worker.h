/* worker.h — one share-nothing worker thread: its loop, its HTTP server, its curl engine, its timers. */
#ifndef DETOUR_WORKER_H
#define DETOUR_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "loop.h"
#include "runtime.h"
#include "server.h"
#include "timers.h"

/*
 * The thread and what only the thread's own life needs (its wake fd, its
 * drain). Everything a request reaches is in ctx: nothing below the worker
 * includes this header.
 */
struct worker {
	struct context ctx;
	pthread_t thread;
	bool started;
	int wakefd;
	struct loop_watch wake_watch;
	struct server server;
	struct health *health;      /* active health checks; worker 0 only */

	atomic_bool stop;           /* set by the main thread */
	/* One more each turn of the loop: the main thread pings the worker, then
	 * sees it move, before it tells the service manager's watchdog all is well. */
	atomic_uint_fast64_t heartbeat;
	uint64_t heartbeat_seen;    /* the main thread's last look */
	bool ending;                /* drain_timeout passed; open requests were ended */
	uint64_t drain_deadline_ms;
	struct timer drain_timer;
	uint64_t drain_grace_ms;    /* until then an open connection may still bring a request */
	struct timer grace_timer;
	size_t burst_peak;          /* most exchanges open at once since memory was last given back */
	uint64_t trimmed_ms;        /* when memory was last given back */
	bool trim_again;            /* the last trim left some of its burst open: trim once more when none is */
	bool trim_last;             /* the trim armed is that last one */
	struct timer trim_timer;    /* the trim, a little after it is due */
};

/* Creates the worker's loop, server and engine and starts its thread, counting
 * into rt's counters for worker id. listen_fd is a listening socket to adopt
 * (handed over by the worker this one replaces after a reload; the worker
 * owns it from now on, even on failure), or -1 to bind one. Returns 0, or -1
 * with err filled (nothing left running). */
int worker_start(struct worker *w, struct runtime *rt, unsigned id, int listen_fd, char *err, size_t errlen);

/* Asks the worker to stop accepting, finish its exchanges within
 * server.drain_timeout, and exit. Safe from any thread. */
void worker_request_stop(struct worker *w);

/* Wakes the worker's loop once, so its heartbeat moves if it is alive. Safe from any thread. */
void worker_ping(struct worker *w);

/* Waits for the thread and frees everything it held (its counters are the
 * runtime's and stay readable: a reload hands them to the next generation). */
void worker_join(struct worker *w);

/* The listening socket the worker accepts on, or -1 (quiesced, stopped). */
static inline int worker_listen_fd(const struct worker *w)
{
	return w->server.listen_fd;
}

#endif

/* worker.h — one share-nothing worker thread: its epoll loop, its HTTP server, its curl engine, its timers. */
#ifndef DETOUR_WORKER_H
#define DETOUR_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "gate.h"
#include "metrics.h"
#include "rng.h"
#include "runtime.h"
#include "timers.h"

struct MHD_Daemon;
struct exchange;

/*
 * What an epoll event belongs to: the low 3 bits of its data. The rest is a
 * file descriptor shifted left by 3, or, for WORKER_TAG_CLIENT, the address of
 * an exchange (malloc'd, so 8-aligned).
 */
enum worker_tag {
	WORKER_TAG_WAKE = 1,    /* the worker's eventfd */
	WORKER_TAG_SERVER = 2,  /* libmicrohttpd's own epoll fd */
	WORKER_TAG_ENGINE = 3,  /* one of curl's sockets */
	WORKER_TAG_CLIENT = 4,  /* a waiting client's socket, for EPOLLRDHUP */
};
#define WORKER_TAG_MASK 7u

static inline uint64_t worker_fd_data(int fd, enum worker_tag tag)
{
	return ((uint64_t)(uint32_t)fd << 3) | tag;
}

struct worker {
	unsigned id;
	struct runtime *rt;
	pthread_t thread;
	bool started;
	int epfd;
	int wakefd;
	struct timers timers;
	struct engine *engine;
	struct rng rng;

	struct MHD_Daemon *mhd;
	int mhd_fd;
	int listen_fd;             /* -1 once quiesced */
	struct timer mhd_timer;    /* libmicrohttpd's own timeouts */
	bool mhd_due;              /* MHD_run should run before the next wait */
	struct gate gate;          /* libmicrohttpd stopped accepting (limit, EMFILE) */
	unsigned mhd_limit;        /* its MHD_OPTION_CONNECTION_LIMIT */
	unsigned char peer_pending[16]; /* an address counted at accept, not yet its connection's */
	size_t peer_pending_len;   /* 0: none */

	struct exchange *exchanges; /* in flight on this worker */
	size_t nexchanges;
	struct exchange *spare;     /* freed exchanges kept for reuse */
	size_t nspare;
	struct exchange *released;  /* freed during this epoll batch; spares after it */

	struct metrics metrics;     /* written by this thread only */
	struct health *health;      /* active health checks; worker 0 only */

	atomic_bool stop;           /* set by the main thread */
	bool draining;              /* stopped accepting; waiting for open requests */
	bool ending;                /* drain_timeout passed; open requests were ended */
	uint64_t drain_deadline_ms;
	struct timer drain_timer;
	uint64_t drain_grace_ms;    /* until then an open connection may still bring a request */
	struct timer grace_timer;
};

/* Creates the worker's loop, server and engine and starts its thread.
 * listen_fd is a listening socket to adopt (handed over by the worker this
 * one replaces after a reload; the worker owns it from now on, even on
 * failure), or -1 to bind one. Returns 0, or -1 with err filled (nothing
 * left running). */
int worker_start(struct worker *w, struct runtime *rt, unsigned id, int listen_fd, char *err, size_t errlen);

/* Asks the worker to stop accepting, finish its exchanges within
 * server.drain_timeout, and exit. Safe from any thread. */
void worker_request_stop(struct worker *w);

/* Waits for the thread and frees everything it held but its counters, which
 * stay readable (a reload hands them to the next generation). */
void worker_join(struct worker *w);

void worker_free_counters(struct worker *w);

/* libmicrohttpd has work (a resumed connection): run it before the next wait. */
static inline void worker_server_due(struct worker *w) { w->mhd_due = true; }

#endif

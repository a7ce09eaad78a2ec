/* context.h — what a request handler may reach on its thread: the shared runtime, the loop, the timers, the engine, the counters. */
#ifndef DETOUR_CONTEXT_H
#define DETOUR_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"
#include "rng.h"
#include "timers.h"

struct runtime;
struct engine;
struct engine_ops;
struct metrics;
struct exchange;
struct shared_mailbox;

/*
 * One per worker thread, embedded in the worker and handed to everything
 * below it (as h2o hands h2o_context_t to its handlers): exchanges, the
 * attempt loop, streams, the operator's endpoints and the health checks reach
 * the thread through this, never through the worker. Touched by its own
 * thread only.
 */
struct context {
	unsigned id;                 /* the worker's number, for logs */
	struct runtime *rt;          /* shared by every worker of a generation */
	struct loop loop;
	struct timers timers;
	struct rng rng;
	struct engine *engine;
	const struct engine_ops *engine_ops; /* engine_curl_ops; a fake in unit tests */
	struct metrics *metrics;     /* this thread's counters (kept by the runtime) */

	/* The exchanges of this thread (exchange.c keeps these lists). */
	struct exchange *exchanges;  /* in flight */
	size_t nexchanges;
	struct exchange *spare;      /* freed exchanges kept for reuse */
	size_t nspare;
	struct exchange *released;   /* freed during this loop turn; spares after it */

	/* Replies from the shared thread to exchanges waiting on Redis (tierwait.c); NULL until one waits. */
	struct shared_mailbox *mailbox;
	struct loop_watch mailbox_watch;

	bool draining;               /* stopped accepting: answers say Connection: close */
	bool server_due;             /* the HTTP server has work: run it before the next wait */
};

/* The HTTP server has work (a resumed connection): run it before the next wait. */
static inline void context_server_due(struct context *ctx)
{
	ctx->server_due = true;
}

#endif

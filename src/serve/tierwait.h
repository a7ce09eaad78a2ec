/* tierwait.h — a request waiting on the shared second tier (Redis): the fetch, its timer, the reply back on the request's own thread. */
#ifndef DETOUR_TIERWAIT_H
#define DETOUR_TIERWAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared.h"
#include "timers.h"

struct context;

/* The wait ended: found true when the value is now in the local tier (look it up again). */
typedef void tierwait_fn(void *arg, bool found);

/* Embedded in the exchange; touched by its thread only. */
struct tierwait {
	struct context *ctx;        /* the thread waiting */
	struct shared_fetch *fetch; /* under way; NULL: not waiting */
	struct timer timer;         /* gives up at shared.timeout or the request's deadline */
	tierwait_fn *done;
	void *arg;
};

/* Prepares w for a new request on ctx (not waiting). */
void tierwait_init(struct tierwait *w, struct context *ctx);

/*
 * On a local miss: asks Redis for key of tier, and later calls done(arg,
 * found) on w's thread, at the latest when shared.timeout or deadline_ms
 * passes (then as a miss). Returns false when there is nothing to wait for
 * (no shared section, Redis down, no time left, out of memory): a miss now,
 * done is never called. The caller leaves its request waiting (suspended) on true.
 */
bool tierwait_start(struct tierwait *w, uint64_t deadline_ms, enum shared_tier tier, const char *key,
		    size_t key_len, tierwait_fn *done, void *arg);

/* Stops the wait, if any: done will not be called. Safe to call twice. */
void tierwait_cancel(struct tierwait *w);

/* The worker is ending: closes ctx's mailbox (fetches under way are dropped when they come back). */
void tierwait_context_end(struct context *ctx);

#endif

/* runtime.h — what every worker shares: the configuration and the upstreams built from it. */
#ifndef DETOUR_RUNTIME_H
#define DETOUR_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "convstore.h"
#include "config.h"
#include "degrade.h"
#include "metrics.h"
#include "shared.h"
#include "upstream.h"

struct runtime {
	const struct config *cfg;
	struct upstream *upstreams;   /* cfg->nupstreams, in configuration order */
	uint64_t started_wall_ms;
	/* Counters: one set per worker (each written by its own thread only),
	 * then the counters of the runtimes before a reload. */
	struct metrics *counters;     /* cfg->server.workers + 1 */
	size_t ncounters;
	/* The retry budget's two sides, daemon-wide. */
	atomic_uint_fast64_t requests_active;  /* exchanges in the attempt loop */
	atomic_uint_fast64_t retries_active;   /* retries waiting or under way */
	struct degrade degrade;       /* the pinned floor, and what was served recently */
	struct cache *cache;          /* NULL when degradation.cache.entries is 0 */
	bool owns_cache;              /* false once a reload handed the cache to the next runtime */
	struct convstore *store;      /* the Responses API's conversations; never NULL (off: keeps nothing) */
	bool owns_store;              /* false once a reload handed the store to the next runtime */
	struct metrics handed_over;   /* what of this runtime's counters its successor already has */
	struct shared *shared;        /* NULL: nothing is shared (no shared.redis) */
	bool owns_shared;             /* false once a reload handed the connection to the next runtime */
};

/* Builds the shared state for cfg (borrowed; it must outlive rt). */
int runtime_init(struct runtime *rt, const struct config *cfg, char *err, size_t errlen);
void runtime_free(struct runtime *rt);

/*
 * After a reload, before rt's workers start: rt takes from old (still
 * serving) what must outlive a configuration: each upstream's breaker and
 * counters (matched by name and base_url), the operator's degradation pin
 * (unless the file changed degradation.mode), the cache and the Responses
 * store (each when its limits did not change) and the start time.
 */
void runtime_carry(struct runtime *rt, struct runtime *old);

/*
 * After runtime_carry, before rt's workers start: rt shares its state through
 * Redis when cfg->shared.redis is set, keeping old's connection (old may be
 * NULL) when the shared section did not change, else starting its own.
 * Returns 0, or -1 with err filled.
 */
int runtime_share(struct runtime *rt, struct runtime *old, char *err, size_t errlen);

/* A generation that failed to start gives old back what runtime_share took from it. */
void runtime_unshare(struct runtime *rt, struct runtime *old);

/* rt adds old's request counters to its own: as rt starts, and again once
 * old's workers have stopped (only what they counted since). */
void runtime_carry_metrics(struct runtime *rt, struct runtime *old);

/* The counters worker id writes. */
static inline struct metrics *runtime_worker_metrics(struct runtime *rt, unsigned id)
{
	return &rt->counters[id];
}

/* Appends the Prometheus text of every worker's counters and the shared state. */
int runtime_render_metrics(const struct runtime *rt, struct buf *out);

/* The runtime upstream behind a configured one. */
static inline struct upstream *runtime_upstream(const struct runtime *rt, const struct config_upstream *cfg)
{
	return &rt->upstreams[cfg->index];
}

#endif

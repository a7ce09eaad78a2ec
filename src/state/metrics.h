/* metrics.h — counters each worker keeps for itself, summed into Prometheus text on scrape. */
#ifndef DETOUR_METRICS_H
#define DETOUR_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "end_reason.h"

struct cache;
struct upstream;

enum metrics_endpoint {
	METRICS_CHAT,
	METRICS_COMPLETIONS,
	METRICS_EMBEDDINGS,
	METRICS_RESPONSES,
	METRICS_OTHER,
	METRICS_ENDPOINTS
};

enum metrics_attempt {
	METRICS_ATTEMPT_SUCCESS,
	METRICS_ATTEMPT_FALL_OVER,
	METRICS_ATTEMPT_PASS_THROUGH,
	METRICS_ATTEMPT_GIVE_UP,
	METRICS_ATTEMPT_SKIPPED,
	METRICS_ATTEMPTS
};

#define METRICS_BUCKETS 14

/* One owner thread adds with a relaxed load and store (no locked instruction);
 * the scraping thread reads with relaxed loads. */
typedef atomic_uint_fast64_t metrics_counter;

struct metrics {
	metrics_counter requests[METRICS_ENDPOINTS][600];      /* by answered status */
	metrics_counter duration_buckets[METRICS_ENDPOINTS][METRICS_BUCKETS];
	metrics_counter duration_ms_sum[METRICS_ENDPOINTS];
	metrics_counter *attempts;                             /* [upstream][METRICS_ATTEMPTS] */
	metrics_counter degraded[CONFIG_LEVEL_OFFLINE + 1];    /* answers below full, by level */
	metrics_counter cache_hits;
	metrics_counter cache_misses;
	metrics_counter ends[END_REASONS];                     /* exchanges, by why they ended */
	size_t nupstreams;
};

/* Returns 0, or -1 when out of memory. */
int metrics_init(struct metrics *m, size_t nupstreams);
void metrics_free(struct metrics *m);

static inline void metrics_add(metrics_counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Counts a request answered with status after ms. */
void metrics_request(struct metrics *m, enum metrics_endpoint ep, unsigned status, uint64_t ms);

/* Counts one attempt on upstream index u. */
void metrics_attempt(struct metrics *m, size_t u, enum metrics_attempt what);

/* Counts one exchange that ended for reason why. */
static inline void metrics_end(struct metrics *m, enum end_reason why)
{
	if ((unsigned)why < END_REASONS)
		metrics_add(&m->ends[why], 1);
}

/* What a scrape reads: a runtime's counter sets (one per worker, and the
 * counters carried over from before a reload), laid out for cfg, and the
 * shared state shown as gauges. */
struct metrics_scrape {
	const struct config *cfg;
	const struct metrics *sets;
	size_t nsets;
	struct upstream *upstreams;  /* cfg->nupstreams, for the breaker gauges */
	struct cache *cache;         /* NULL when off */
};

/* After a reload: adds to into (the new runtime's carried counters, laid out
 * for cfg) what the old runtime's counter sets hold beyond what earlier calls
 * handed over (noted in handed_over, laid out for old->cfg). Called once as the
 * new runtime starts, and once more when the old workers have drained. */
void metrics_carry(struct metrics *into, const struct config *cfg, const struct metrics_scrape *old,
		   struct metrics *handed_over);

/* Appends the Prometheus text of the sets' counters and the shared state. */
int metrics_render(const struct metrics_scrape *s, struct buf *out);

#endif

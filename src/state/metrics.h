/* metrics.h — counters each worker keeps for itself, summed into Prometheus text on scrape. */
#ifndef DETOUR_METRICS_H
#define DETOUR_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
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

/* 5 ms to 600 s, then +Inf: past any request_timeout up to ten minutes. */
#define METRICS_BUCKETS 17

/* One owner thread adds with a relaxed load and store (no locked instruction);
 * the scraping thread reads with relaxed loads. */
typedef atomic_uint_fast64_t metrics_counter;

/* One upstream's counters in a worker's set. Every member is a counter, so a
 * reload carries the struct as one run of them. */
struct metrics_upstream {
	metrics_counter attempt_buckets[METRICS_BUCKETS]; /* a call's duration, submit to end */
	metrics_counter attempt_ms_sum;
	metrics_counter ttfb_buckets[METRICS_BUCKETS];    /* submit to the first response byte */
	metrics_counter ttfb_ms_sum;
	metrics_counter retries;                          /* the same target called again */
	metrics_counter health[2];                        /* health checks: ok, failed */
};

#define METRICS_UPSTREAM_COUNTERS (sizeof(struct metrics_upstream) / sizeof(metrics_counter))

/* Model slots an upstream has in a counter set; the models past them are
 * counted under model="other" (one more slot), so a client that names many
 * models cannot grow the page without bound. */
#define METRICS_MODELS 64
#define METRICS_MODEL_SLOTS (METRICS_MODELS + 1)
/* A model name this long or longer, or with bytes a label should not hold,
 * is counted under "other" too. */
#define METRICS_MODEL_NAME 128

enum metrics_tokens {
	METRICS_TOKENS_PROMPT,
	METRICS_TOKENS_COMPLETION,
	METRICS_TOKENS_CACHED,
	METRICS_TOKEN_KINDS
};

/* One (upstream, model) slot of a counter set. The owner fills name and hash
 * once, then sets taken (release), so a scrape that sees taken (acquire)
 * reads a whole name; a slot never changes model. */
struct metrics_model {
	atomic_bool taken;
	uint32_t hash;
	char name[METRICS_MODEL_NAME];
	metrics_counter tokens[METRICS_TOKEN_KINDS];
};

struct metrics {
	metrics_counter requests[METRICS_ENDPOINTS][600];      /* by answered status */
	metrics_counter duration_buckets[METRICS_ENDPOINTS][METRICS_BUCKETS];
	metrics_counter duration_ms_sum[METRICS_ENDPOINTS];
	metrics_counter *attempts;                             /* [upstream][METRICS_ATTEMPTS] */
	metrics_counter degraded[CONFIG_LEVEL_OFFLINE + 1];    /* answers below full, by level */
	metrics_counter cache_hits;
	metrics_counter cache_misses;
	metrics_counter ends[END_REASONS];                     /* exchanges, by why they ended */
	metrics_counter retry_refusals;                        /* retries and continuations the retry budget refused */
	metrics_counter stream_cuts;                           /* streams broken off upstream after the commit point */
	metrics_counter client_aborts;                         /* clients that left before their answer was whole */
	metrics_counter streams_opened;                        /* streams committed ... */
	metrics_counter streams_closed;                        /* ... and over: the difference is open */
	struct metrics_upstream *up;                           /* [upstream] */
	struct metrics_model *models;                          /* [upstream][METRICS_MODEL_SLOTS]: tokens by model */
	metrics_counter *models_handed;                        /* handed_over only: [set][upstream][slot][kind] */
	size_t models_handed_sets;
	size_t nupstreams;
	metrics_counter *continuations;                        /* [route][from][to][ok, failed] */
	size_t nroutes;
};

/* Counters for a configuration's nupstreams upstreams and nroutes routes.
 * Returns 0, or -1 when out of memory. */
int metrics_init(struct metrics *m, size_t nupstreams, size_t nroutes);
void metrics_free(struct metrics *m);

static inline void metrics_add(metrics_counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Counts a request answered with status after ms. */
void metrics_request(struct metrics *m, enum metrics_endpoint ep, unsigned status, uint64_t ms);

/* Counts one attempt on upstream index u. */
void metrics_attempt(struct metrics *m, size_t u, enum metrics_attempt what);

/* A call to upstream u took ms; its first byte came after ttfb_ms (-1: none came). */
void metrics_attempt_time(struct metrics *m, size_t u, uint64_t ms, int64_t ttfb_ms);

/* A cut stream of route index route went on from upstream from to upstream
 * to; ok: the continuation delivered its first delta. Indices past the set
 * are ignored. */
void metrics_continuation(struct metrics *m, size_t route, size_t from, size_t to, bool ok);

/* Upstream u's counter member (offsetof(struct metrics_upstream, ...)), or NULL past the set. */
metrics_counter *metrics_upstream_counter(struct metrics *m, size_t u, size_t offset);

#define metrics_upstream_add(m, u, member, n) \
	do { \
		metrics_counter *c_ = metrics_upstream_counter((m), (u), offsetof(struct metrics_upstream, member)); \
		if (c_ != NULL) \
			metrics_add(c_, (n)); \
	} while (0)

/* Counts the tokens an answer's usage reported for a call to upstream u that
 * asked for model (NULL: none named). The first answer of a model takes a
 * slot; later ones find it without a lock or an allocation. */
void metrics_tokens(struct metrics *m, size_t u, const char *model, uint64_t prompt, uint64_t completion,
		    uint64_t cached);

/* Process-wide facts a scrape shows whatever the generation: when detourd
 * started, and how reloads went (ok or refused, and the last one's wall time). */
void metrics_note_start(uint64_t wall_ms);
void metrics_note_reload(int ok, uint64_t wall_ms);

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
	uint64_t in_flight;          /* requests in the attempt loop now */
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

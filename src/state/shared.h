/* shared.h — what several detourd instances share through Redis: breaker moves, Retry-After holds, operator choices, the half-open probe's lease, cached answers and Responses conversations, on a thread of its own. */
#ifndef DETOUR_SHARED_H
#define DETOUR_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cache.h"
#include "config.h"
#include "convstore.h"
#include "degrade.h"
#include "upstream.h"

/* The prefix of keys and channel when shared.prefix is not set. */
#define SHARED_PREFIX "detour:"

/* Messages waiting for the Redis thread; past this many, new ones are dropped (and counted as errors). */
#define SHARED_OUTBOX_MAX 10000
/* An ASKED or ELSEWHERE lease is asked again this often, in case the prober died;
 * operator choices are read back from their keys as often. */
#define SHARED_LEASE_RECHECK_MS 1000

struct shared;

/*
 * Starts sharing for cfg->shared (cfg->shared.redis set): a thread with its
 * own loop and two Redis connections (commands, and the subscription), which
 * connect now and keep reconnecting. Workers never wait on it: what they tell
 * is queued, what others tell is applied to the bound state. NULL with err
 * filled when it cannot start.
 */
struct shared *shared_start(const struct config *cfg, char *err, size_t errlen);

/* Stops the thread, closes the connections and frees sh; NULL is fine. */
void shared_stop(struct shared *sh);

/* True when cfg's shared section is the one sh runs with: a reload keeps the connection then. */
bool shared_same(const struct shared *sh, const struct config *cfg);

/*
 * From now on, remote states go to these upstreams (cfg's, in order), this
 * degradation pin, this cache (NULL: none) and this Responses store, and their events are told to
 * other instances. Called before the workers of a generation start; the
 * previous binding's upstreams may still tell what they see.
 */
void shared_bind(struct shared *sh, const struct config *cfg, struct upstream *upstreams, size_t nupstreams,
		 struct degrade *degrade, struct cache *cache, struct convstore *store);

/* An operator pinned the degradation level (AUTO: handed back). */
void shared_tell_degradation(struct shared *sh, enum config_level level);

/* Whether Redis answers now. */
bool shared_up(const struct shared *sh);

/* This instance's name in what it tells ("host-pid"). */
const char *shared_instance(const struct shared *sh);

/* Appends detour_shared_up and detour_shared_errors_total (Prometheus text). Returns 0, or -1 when out is full. */
int shared_render_metrics(const struct shared *sh, struct buf *out);

#endif

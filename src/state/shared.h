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

/* shared.timeout: the longest a request waits for Redis. */
uint64_t shared_timeout(const struct shared *sh);

/* ---- the second tier: reading, on a local miss, what an instance stored ------------------- */

/* Which local tier a fetch fills. */
enum shared_tier {
	SHARED_TIER_CACHE,        /* key: a canonical chat request (cache_key) */
	SHARED_TIER_CONVERSATION, /* key: a resp_ id */
};

/*
 * A worker's mailbox: the shared thread posts finished fetches to it and
 * writes its eventfd; the worker, woken on its own loop, runs their
 * callbacks. A fetch never touches an exchange from the shared thread.
 */
struct shared_mailbox;

/* One fetch under way, owned by the shared thread and then by the mailbox. */
struct shared_fetch;

/* A fetch ended: found true when the value is now in the local tier (look it
 * up again there), false for a miss, an error or Redis down. Runs on the
 * mailbox's worker. */
typedef void shared_fetch_fn(void *arg, bool found);

/* A mailbox with its eventfd; NULL when out of memory or fds. */
struct shared_mailbox *shared_mailbox_create(void);

/* The fd the worker's loop watches (readable: fetches to deliver). */
int shared_mailbox_fd(const struct shared_mailbox *mb);

/* On the worker: runs the callback of every finished fetch not cancelled, and frees them. */
void shared_mailbox_deliver(struct shared_mailbox *mb);

/* The worker is gone: fetches that come back later are dropped, and the
 * mailbox is freed with the last of them. NULL is fine. */
void shared_mailbox_close(struct shared_mailbox *mb);

/*
 * Asks Redis for key of tier (GET and PTTL, so the local copy expires when
 * Redis's does); the value, if any, is put in the local tier by the shared
 * thread, then fn(arg, found) runs on mb's worker. NULL when nothing is asked
 * (Redis down, out of memory): a miss now, fn is never called. Workers only.
 */
struct shared_fetch *shared_fetch(struct shared *sh, struct shared_mailbox *mb, enum shared_tier tier,
				  const char *key, size_t key_len, shared_fetch_fn *fn, void *arg);

/* On mb's worker, before fn ran: fn will never run (its exchange gave up waiting). */
void shared_fetch_cancel(struct shared_fetch *f);

/* Appends detour_shared_up and detour_shared_errors_total (Prometheus text). Returns 0, or -1 when out is full. */
int shared_render_metrics(const struct shared *sh, struct buf *out);

#endif

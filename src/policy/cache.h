/* cache.h — stored answers for exact repeats of a request: a sharded LRU bounded by count and bytes, entries expiring after a TTL; the clock is the caller's. */
#ifndef DETOUR_CACHE_H
#define DETOUR_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"

struct cache;

/* A copy of a stored answer, owned by the caller (cache_hit_free). */
struct cache_hit {
	char *answer;            /* a chat.completion JSON object, NUL-terminated */
	size_t answer_len;
	enum config_level level; /* the level it was produced at (full, reduced, minimal) */
	uint64_t stored_ms;      /* the caller's clock when it was stored */
};

/*
 * A cache of at most entries answers and max_bytes bytes (keys and answers
 * together), each fresh for ttl_ms. entries == 0 gives a cache that stores
 * nothing. Safe to share between threads (one lock per shard). NULL when out
 * of memory.
 */
struct cache *cache_create(size_t entries, size_t max_bytes, uint64_t ttl_ms);
void cache_free(struct cache *c);

/*
 * The canonical key of a chat request body (a JSON object, as the client sent
 * it): every member except those that do not change the answer (stream,
 * stream_options, user, metadata, store, service_tier), objects' members
 * sorted by key at every depth, no white space outside strings, strings as
 * written, numbers normalised. Field order and white space therefore do not matter; a
 * different temperature does. Appends it to out; returns 0, or -1 when the
 * body is not a JSON object or out is full.
 */
int cache_key(const char *request, size_t len, struct buf *out);

/* The same for a body known to be a valid JSON object (request_parse checked
 * it), so the request path does not validate it twice. */
int cache_key_checked(const char *request, size_t len, struct buf *out);

/* Looks up key at now. On a fresh hit fills *hit (a copy) and returns true,
 * making the entry the most recently used. An expired entry is removed. */
bool cache_lookup(struct cache *c, const char *key, size_t key_len, uint64_t now, struct cache_hit *hit);

/* Stores a copy of answer under key at now, replacing an entry with the same
 * key and evicting least recently used entries of its shard until the limits
 * hold. An answer larger than a shard's byte budget is not stored. */
void cache_store(struct cache *c, const char *key, size_t key_len, const char *answer, size_t answer_len,
		 enum config_level level, uint64_t now);

/* Told of every answer cache_store keeps (state/shared.c passes it to other instances). */
typedef void cache_observer_fn(void *arg, const char *key, size_t key_len, const char *answer, size_t answer_len,
			       enum config_level level);

/* Sets the observer, before any thread stores; NULL fn: none. */
void cache_set_observer(struct cache *c, cache_observer_fn *fn, void *arg);

/* cache_store without telling the observer: an answer another instance stored. */
void cache_adopt(struct cache *c, const char *key, size_t key_len, const char *answer, size_t answer_len,
		 enum config_level level, uint64_t now);

/* The TTL the cache was made with. */
uint64_t cache_ttl(const struct cache *c);

void cache_hit_free(struct cache_hit *hit);

/* The largest answer cache_store can keep (a shard's byte budget); 0 when the
 * cache stores nothing. Gathering a larger one is wasted memory. */
size_t cache_max_answer(const struct cache *c);

/* Entries held now (expired ones not yet removed included). */
size_t cache_entries(struct cache *c);
/* Bytes held now. */
size_t cache_bytes(struct cache *c);

/* Entries dropped to make room for others since the cache was made. */
uint64_t cache_evictions(struct cache *c);

#endif

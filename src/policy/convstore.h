/* convstore.h — the Responses API's conversation state: each stored response's input and output, in a sharded LRU bounded by count and bytes, entries expiring after a TTL; the clock is the caller's. */
#ifndef DETOUR_CONVSTORE_H
#define DETOUR_CONVSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * detour answers a Responses client with its own resp_ ids and keeps what a
 * later previous_response_id needs (the whole input and the response object)
 * itself, so a conversation survives a failover to another upstream. These
 * are prompts: the store is kept in memory only, never written to a log, and
 * lost on restart. Values are JSON texts kept as given (the caller serializes).
 */

struct convstore;

/* The longest id kept ("resp_" + 48 hex digits fits with room to spare). */
#define CONVSTORE_MAX_ID 128

/* A copy of a stored entry, owned by the caller (convstore_entry_free). */
struct convstore_entry {
	char *input;          /* a JSON list of input items, NUL-terminated */
	size_t input_len;
	char *response;       /* the response object, NUL-terminated */
	size_t response_len;
	uint64_t stored_ms;   /* the caller's clock when it was stored */
};

/*
 * A store of at most entries responses and max_bytes bytes (ids, inputs and
 * responses together), each kept for ttl_ms after it was stored. Below 1024
 * entries it is one shard, so the bounds are exact; above, 16 shards share
 * them (each holds a sixteenth). entries == 0 gives a store that keeps
 * nothing. Safe to share between threads (one lock per shard). NULL when out
 * of memory.
 */
struct convstore *convstore_create(size_t entries, size_t max_bytes, uint64_t ttl_ms);
void convstore_free(struct convstore *s);

/* True when the store keeps nothing (entries 0): previous_response_id cannot work. */
bool convstore_off(const struct convstore *s);

/*
 * Keeps a copy of input and response under id at now, replacing an entry
 * with the same id and evicting the least recently used entries of its shard
 * until the bounds hold. Returns 0, or -1 when not kept: the store is off,
 * id is empty or longer than CONVSTORE_MAX_ID, the entry alone is larger
 * than a shard's byte budget, or out of memory.
 */
int convstore_put(struct convstore *s, const char *id, const char *input, size_t input_len, const char *response,
		  size_t response_len, uint64_t now);

/* Looks id up at now: on a live entry fills *e (a copy) and returns true,
 * making it the most recently used. An expired entry is removed. */
bool convstore_get(struct convstore *s, const char *id, uint64_t now, struct convstore_entry *e);

/* Removes id; true when a live entry was removed. */
bool convstore_delete(struct convstore *s, const char *id, uint64_t now);

void convstore_entry_free(struct convstore_entry *e);

/* Told of every entry convstore_put keeps (response non-NULL) and every id
 * convstore_delete removes (input and response NULL): state/shared.c passes
 * them to other instances. */
typedef void convstore_observer_fn(void *arg, const char *id, const char *input, size_t input_len,
				   const char *response, size_t response_len);

/* Sets the observer, before any thread stores; NULL fn: none. */
void convstore_set_observer(struct convstore *s, convstore_observer_fn *fn, void *arg);

/* convstore_put and convstore_delete without telling the observer: what another instance did. */
int convstore_adopt(struct convstore *s, const char *id, const char *input, size_t input_len, const char *response,
		    size_t response_len, uint64_t now);
bool convstore_forget(struct convstore *s, const char *id, uint64_t now);

/* The TTL the store was made with. */
uint64_t convstore_ttl(const struct convstore *s);

/* Entries and bytes held now (expired ones not yet removed included). */
size_t convstore_entries(struct convstore *s);
size_t convstore_bytes(struct convstore *s);

#endif

/* cache.c — stored answers for exact repeats of a request: 16 shards, each a chained hash table, an LRU list and its own lock. */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"

/* A power of two, so the shard is the top bits of the hash. Sixteen locks keep
 * four to sixteen workers from queueing on one mutex; more would only thin
 * each shard's budget (and so its largest storable answer). */
#define CACHE_SHARDS 16
#define CACHE_SHARD_BITS 4

/* A new shard's table; it doubles while entries outnumber buckets, up to the
 * shard's entry limit, so a big configured cache costs no memory until used. */
#define CACHE_MIN_BUCKETS 16

/* Byte accounting counts a key and an answer exactly (what the configuration
 * calls max_bytes): the entry header (64 bytes on LP64) and malloc's slack are not
 * counted, so real memory runs a little above max_bytes with many tiny answers. */
struct cache_entry {
	struct cache_entry *chain;  /* next in the bucket */
	struct cache_entry *newer;  /* LRU list: toward the most recently used */
	struct cache_entry *older;
	uint64_t hash;
	uint64_t stored_ms;
	enum config_level level;
	size_t key_len;
	size_t answer_len;
	char bytes[];               /* key, NUL, answer, NUL: one allocation per entry */
};

struct cache_shard {
	pthread_mutex_t lock;
	struct cache_entry **buckets;
	size_t nbuckets;            /* a power of two */
	struct cache_entry *newest; /* LRU head */
	struct cache_entry *oldest; /* LRU tail: evicted first */
	size_t count;
	size_t bytes;
	uint64_t evictions;         /* entries dropped to make room */
};

struct cache {
	size_t max_entries;         /* per shard; 0: the cache stores nothing */
	size_t max_bytes;           /* per shard */
	size_t max_buckets;         /* per shard, a power of two */
	uint64_t ttl_ms;
	cache_observer_fn *observer;
	void *observer_arg;
	struct cache_shard shards[CACHE_SHARDS];
};

/* Eight bytes a step (keys are whole request bodies, often tens of KB), then
 * a murmur3 finalizer so both the top bits (shard) and the low bits (bucket)
 * are well mixed. Not keyed: a client able to aim collisions at one bucket
 * only lengthens a chain it shares with itself, and a lookup compares whole
 * keys, so a collision never serves the wrong answer. */
static uint64_t cache_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (len * 0x9e3779b97f4a7c15ULL);
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, key + i, 8);
		h = (h ^ (w * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	for (; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static struct cache_shard *cache_shard_of(struct cache *c, uint64_t hash)
{
	return &c->shards[hash >> (64 - CACHE_SHARD_BITS)];
}

static size_t cache_entry_size(const struct cache_entry *e)
{
	return e->key_len + e->answer_len;
}

static const char *cache_entry_answer(const struct cache_entry *e)
{
	return e->bytes + e->key_len + 1;
}

static size_t cache_pow2_at_least(size_t n, size_t floor)
{
	size_t p = floor;

	while (p < n && p <= SIZE_MAX / 2)
		p *= 2;
	return p;
}

struct cache *cache_create(size_t entries, size_t max_bytes, uint64_t ttl_ms)
{
	struct cache *c = calloc(1, sizeof *c);
	size_t i, ready = 0;

	if (c == NULL)
		return NULL;
	c->ttl_ms = ttl_ms;
	if (entries > 0) {
		c->max_entries = entries / CACHE_SHARDS + (entries % CACHE_SHARDS != 0);
		c->max_bytes = max_bytes / CACHE_SHARDS;
		c->max_buckets = cache_pow2_at_least(c->max_entries, CACHE_MIN_BUCKETS);
	}
	for (i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shards[i];

		if (pthread_mutex_init(&s->lock, NULL) != 0)
			goto fail;
		ready++;
		if (c->max_entries == 0)
			continue;
		s->nbuckets = CACHE_MIN_BUCKETS;
		s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
		if (s->buckets == NULL)
			goto fail;
	}
	return c;
fail:
	for (i = 0; i < ready; i++)
		pthread_mutex_destroy(&c->shards[i].lock);
	for (i = 0; i < CACHE_SHARDS; i++)
		free(c->shards[i].buckets);
	free(c);
	return NULL;
}

void cache_free(struct cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shards[i];
		struct cache_entry *e = s->newest;

		while (e != NULL) {
			struct cache_entry *older = e->older;

			free(e);
			e = older;
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(c);
}

int cache_key_checked(const char *request, size_t len, struct buf *out)
{
	static const char *const ignored[] = {
		"stream", "stream_options", "user", "metadata", "store", "service_tier", NULL,
	};

	/* Straight from the client's bytes: sorting members needs no tree, and
	 * strings are copied as written rather than decoded and encoded again. */
	return jsonscan_canonical(request, len, ignored, out);
}

int cache_key(const char *request, size_t len, struct buf *out)
{
	return jsonscan_valid_object(request, len) ? cache_key_checked(request, len, out) : -1;
}

static void cache_lru_unlink(struct cache_shard *s, struct cache_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void cache_lru_push(struct cache_shard *s, struct cache_entry *e)
{
	e->newer = NULL;
	e->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
}

/* The slot that points at the entry for key, or at the NULL ending its chain. */
static struct cache_entry **cache_slot(struct cache_shard *s, uint64_t hash, const char *key, size_t key_len)
{
	struct cache_entry **p = &s->buckets[hash & (s->nbuckets - 1)];

	while (*p != NULL) {
		struct cache_entry *e = *p;

		if (e->hash == hash && e->key_len == key_len && memcmp(e->bytes, key, key_len) == 0)
			break;
		p = &e->chain;
	}
	return p;
}

/* Takes e out of the table and the list; the caller frees it. */
static void cache_remove(struct cache_shard *s, struct cache_entry *e)
{
	struct cache_entry **p = &s->buckets[e->hash & (s->nbuckets - 1)];

	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	e->chain = NULL;
	cache_lru_unlink(s, e);
	s->count--;
	s->bytes -= cache_entry_size(e);
}

/* Doubles the table; on failure keeps the old one, whose chains only grow
 * longer (slower, still correct). */
static void cache_grow(struct cache *c, struct cache_shard *s)
{
	size_t i, n = s->nbuckets * 2;
	struct cache_entry **b;

	if (s->count <= s->nbuckets || n > c->max_buckets)
		return;
	b = calloc(n, sizeof *b);
	if (b == NULL)
		return;
	for (i = 0; i < s->nbuckets; i++) {
		struct cache_entry *e = s->buckets[i];

		while (e != NULL) {
			struct cache_entry *next = e->chain;
			struct cache_entry **slot = &b[e->hash & (n - 1)];

			e->chain = *slot;
			*slot = e;
			e = next;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

static bool cache_fresh(const struct cache *c, const struct cache_entry *e, uint64_t now)
{
	/* A clock read on another thread just before the store can be behind
	 * stored_ms: that entry is brand new, not from the future. */
	if (now <= e->stored_ms)
		return c->ttl_ms > 0;
	return now - e->stored_ms < c->ttl_ms;
}

bool cache_lookup(struct cache *c, const char *key, size_t key_len, uint64_t now, struct cache_hit *hit)
{
	struct cache_shard *s;
	struct cache_entry *e, *expired = NULL;
	uint64_t hash;
	bool found = false;

	memset(hit, 0, sizeof *hit);
	if (c == NULL || c->max_entries == 0)
		return false;
	hash = cache_hash(key, key_len);
	s = cache_shard_of(c, hash);
	pthread_mutex_lock(&s->lock);
	e = *cache_slot(s, hash, key, key_len);
	if (e == NULL)
		goto done;
	if (!cache_fresh(c, e, now)) {
		cache_remove(s, e);
		expired = e;
		goto done;
	}
	/* Copied under the lock: once it is released a store may free e. */
	hit->answer = malloc(e->answer_len + 1);
	if (hit->answer == NULL)
		goto done;
	memcpy(hit->answer, cache_entry_answer(e), e->answer_len + 1);
	hit->answer_len = e->answer_len;
	hit->level = e->level;
	hit->stored_ms = e->stored_ms;
	cache_lru_unlink(s, e);
	cache_lru_push(s, e);
	found = true;
done:
	pthread_mutex_unlock(&s->lock);
	free(expired);
	return found;
}

void cache_set_observer(struct cache *c, cache_observer_fn *fn, void *arg)
{
	if (c == NULL)
		return;
	c->observer = fn;
	c->observer_arg = arg;
}

uint64_t cache_ttl(const struct cache *c)
{
	return c != NULL ? c->ttl_ms : 0;
}

void cache_store(struct cache *c, const char *key, size_t key_len, const char *answer, size_t answer_len,
		 enum config_level level, uint64_t now)
{
	cache_adopt(c, key, key_len, answer, answer_len, level, now);
	if (c != NULL && c->observer != NULL && c->max_entries > 0 && key_len <= c->max_bytes &&
	    answer_len <= c->max_bytes - key_len)
		c->observer(c->observer_arg, key, key_len, answer, answer_len, level);
}

void cache_adopt(struct cache *c, const char *key, size_t key_len, const char *answer, size_t answer_len,
		 enum config_level level, uint64_t now)
{
	struct cache_shard *s;
	struct cache_entry *e, *old, *evicted = NULL;
	struct cache_entry **bucket;
	uint64_t hash;

	if (c == NULL || c->max_entries == 0)
		return;
	/* Too big for its shard: it would evict everything and still not fit.
	 * An entry already held under this key stays (it is no less valid). */
	if (key_len > c->max_bytes || answer_len > c->max_bytes - key_len)
		return;
	/* Built before taking the lock, so the copy of a large answer does not
	 * hold up the shard. */
	e = malloc(sizeof *e + key_len + answer_len + 2);
	if (e == NULL)
		return;
	memset(e, 0, sizeof *e);
	e->hash = cache_hash(key, key_len);
	e->stored_ms = now;
	e->level = level;
	e->key_len = key_len;
	e->answer_len = answer_len;
	memcpy(e->bytes, key, key_len);
	e->bytes[key_len] = '\0';
	memcpy(e->bytes + key_len + 1, answer, answer_len);
	e->bytes[key_len + 1 + answer_len] = '\0';
	hash = e->hash;

	s = cache_shard_of(c, hash);
	pthread_mutex_lock(&s->lock);
	old = *cache_slot(s, hash, key, key_len);
	if (old != NULL) {
		cache_remove(s, old);
		old->chain = evicted;
		evicted = old;
	}
	bucket = &s->buckets[hash & (s->nbuckets - 1)];
	e->chain = *bucket;
	*bucket = e;
	cache_lru_push(s, e);
	s->count++;
	s->bytes += cache_entry_size(e);
	/* e alone fits both limits, so the loop stops before reaching it. */
	while (s->count > c->max_entries || s->bytes > c->max_bytes) {
		struct cache_entry *victim = s->oldest;

		cache_remove(s, victim);
		s->evictions++;
		victim->chain = evicted;
		evicted = victim;
	}
	cache_grow(c, s);
	pthread_mutex_unlock(&s->lock);
	/* Freed after the lock is released: free() of big answers is not the
	 * shard's business. */
	while (evicted != NULL) {
		struct cache_entry *next = evicted->chain;

		free(evicted);
		evicted = next;
	}
}

void cache_hit_free(struct cache_hit *hit)
{
	if (hit == NULL)
		return;
	free(hit->answer);
	hit->answer = NULL;
	hit->answer_len = 0;
}

size_t cache_entries(struct cache *c)
{
	size_t i, n = 0;

	if (c == NULL)
		return 0;
	for (i = 0; i < CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].count;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}

size_t cache_bytes(struct cache *c)
{
	size_t i, n = 0;

	if (c == NULL)
		return 0;
	for (i = 0; i < CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].bytes;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}

size_t cache_max_answer(const struct cache *c)
{
	return c == NULL || c->max_entries == 0 ? 0 : c->max_bytes;
}

uint64_t cache_evictions(struct cache *c)
{
	uint64_t n = 0;
	size_t i;

	if (c == NULL)
		return 0;
	for (i = 0; i < CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].evictions;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}

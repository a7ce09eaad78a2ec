/* convstore.c — the Responses API's conversation state: 1 or 16 shards, each a fixed hash table, an LRU list and its own lock. */
#include "convstore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CONVSTORE_SHARDS_MAX 16
/* Below this many entries one shard keeps the bounds exact (an operator who
 * sets entries: 100 gets 100, not 16 shards of 7). */
#define CONVSTORE_SHARD_FROM 1024
/* Buckets a shard: a power of two at least its entries, at most this (chains
 * then lengthen, which a lookup by a 53-byte id tolerates). */
#define CONVSTORE_MAX_BUCKETS (1u << 16)

/* Byte accounting counts the id, the input and the response exactly. */
struct convstore_node {
	struct convstore_node *chain;  /* next in the bucket */
	struct convstore_node *newer;  /* LRU list: toward the most recently used */
	struct convstore_node *older;
	uint64_t hash;
	uint64_t stored_ms;
	size_t id_len;
	size_t input_len;
	size_t response_len;
	char bytes[];                  /* id, NUL, input, NUL, response, NUL */
};

struct convstore_shard {
	pthread_mutex_t lock;
	struct convstore_node **buckets;
	struct convstore_node *newest;
	struct convstore_node *oldest;
	size_t count;
	size_t bytes;
};

struct convstore {
	size_t max_entries;   /* per shard; 0: off */
	size_t max_bytes;     /* per shard */
	size_t nbuckets;      /* per shard, a power of two */
	size_t nshards;
	uint64_t ttl_ms;
	convstore_observer_fn *observer;
	void *observer_arg;
	struct convstore_shard shards[CONVSTORE_SHARDS_MAX];
};

/* FNV-1a then a murmur3 finalizer: ids are random already, the mix only
 * spreads a client's made-up ids. */
static uint64_t convstore_hash(const char *id, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)id[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static size_t convstore_node_size(const struct convstore_node *n)
{
	return n->id_len + n->input_len + n->response_len;
}

struct convstore *convstore_create(size_t entries, size_t max_bytes, uint64_t ttl_ms)
{
	struct convstore *s = calloc(1, sizeof *s);
	size_t i, ready = 0;

	if (s == NULL)
		return NULL;
	s->ttl_ms = ttl_ms;
	s->nshards = entries >= CONVSTORE_SHARD_FROM ? CONVSTORE_SHARDS_MAX : 1;
	if (entries > 0) {
		s->max_entries = entries / s->nshards + (entries % s->nshards != 0);
		s->max_bytes = max_bytes / s->nshards;
		s->nbuckets = 16;
		while (s->nbuckets < s->max_entries && s->nbuckets < CONVSTORE_MAX_BUCKETS)
			s->nbuckets *= 2;
	}
	for (i = 0; i < s->nshards; i++) {
		if (pthread_mutex_init(&s->shards[i].lock, NULL) != 0)
			goto fail;
		ready++;
		if (s->max_entries == 0)
			continue;
		s->shards[i].buckets = calloc(s->nbuckets, sizeof *s->shards[i].buckets);
		if (s->shards[i].buckets == NULL)
			goto fail;
	}
	return s;
fail:
	for (i = 0; i < ready; i++)
		pthread_mutex_destroy(&s->shards[i].lock);
	for (i = 0; i < s->nshards; i++)
		free(s->shards[i].buckets);
	free(s);
	return NULL;
}

void convstore_free(struct convstore *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nshards; i++) {
		struct convstore_node *n = s->shards[i].newest, *next;

		for (; n != NULL; n = next) {
			next = n->older;
			/* Prompts: wiped before the memory goes back. */
			explicit_bzero(n->bytes, convstore_node_size(n) + 3);
			free(n);
		}
		free(s->shards[i].buckets);
		pthread_mutex_destroy(&s->shards[i].lock);
	}
	free(s);
}

bool convstore_off(const struct convstore *s)
{
	return s == NULL || s->max_entries == 0;
}

static struct convstore_shard *convstore_shard_of(struct convstore *s, uint64_t hash)
{
	return &s->shards[s->nshards == 1 ? 0 : hash >> 60];
}

static struct convstore_node **convstore_slot(struct convstore *s, struct convstore_shard *sh, uint64_t hash,
					      const char *id, size_t len)
{
	struct convstore_node **p = &sh->buckets[hash & (s->nbuckets - 1)];

	while (*p != NULL && !((*p)->hash == hash && (*p)->id_len == len && memcmp((*p)->bytes, id, len) == 0))
		p = &(*p)->chain;
	return p;
}

static void convstore_unlink_lru(struct convstore_shard *sh, struct convstore_node *n)
{
	if (n->newer != NULL)
		n->newer->older = n->older;
	else
		sh->newest = n->older;
	if (n->older != NULL)
		n->older->newer = n->newer;
	else
		sh->oldest = n->newer;
	n->newer = n->older = NULL;
}

static void convstore_push_newest(struct convstore_shard *sh, struct convstore_node *n)
{
	n->older = sh->newest;
	n->newer = NULL;
	if (sh->newest != NULL)
		sh->newest->newer = n;
	sh->newest = n;
	if (sh->oldest == NULL)
		sh->oldest = n;
}

/* Unlinks *slot (a node of sh) and frees it. */
static void convstore_remove(struct convstore_shard *sh, struct convstore_node **slot)
{
	struct convstore_node *n = *slot;

	*slot = n->chain;
	convstore_unlink_lru(sh, n);
	sh->count--;
	sh->bytes -= convstore_node_size(n);
	explicit_bzero(n->bytes, convstore_node_size(n) + 3);
	free(n);
}

static void convstore_evict_oldest(struct convstore *s, struct convstore_shard *sh)
{
	struct convstore_node *old = sh->oldest;

	convstore_remove(sh, convstore_slot(s, sh, old->hash, old->bytes, old->id_len));
}

void convstore_set_observer(struct convstore *s, convstore_observer_fn *fn, void *arg)
{
	if (s == NULL)
		return;
	s->observer = fn;
	s->observer_arg = arg;
}

uint64_t convstore_ttl(const struct convstore *s)
{
	return s != NULL ? s->ttl_ms : 0;
}

int convstore_put(struct convstore *s, const char *id, const char *input, size_t input_len, const char *response,
		  size_t response_len, uint64_t now)
{
	int rc = convstore_adopt(s, id, input, input_len, response, response_len, now);

	if (rc == 0 && s->observer != NULL)
		s->observer(s->observer_arg, id, input, input_len, response, response_len);
	return rc;
}

bool convstore_delete(struct convstore *s, const char *id, uint64_t now)
{
	bool live = convstore_forget(s, id, now);

	if (s != NULL && s->observer != NULL && !convstore_off(s) && id[0] != '\0' && strlen(id) <= CONVSTORE_MAX_ID)
		s->observer(s->observer_arg, id, NULL, 0, NULL, 0);
	return live;
}

int convstore_adopt(struct convstore *s, const char *id, const char *input, size_t input_len, const char *response,
		    size_t response_len, uint64_t now)
{
	size_t id_len = id != NULL ? strlen(id) : 0, size = id_len + input_len + response_len;
	uint64_t hash = convstore_hash(id != NULL ? id : "", id_len);
	struct convstore_shard *sh;
	struct convstore_node *n, **slot;

	if (convstore_off(s) || id_len == 0 || id_len > CONVSTORE_MAX_ID || size > s->max_bytes)
		return -1;
	n = malloc(sizeof *n + size + 3);
	if (n == NULL)
		return -1;
	n->hash = hash;
	n->stored_ms = now;
	n->id_len = id_len;
	n->input_len = input_len;
	n->response_len = response_len;
	n->chain = n->newer = n->older = NULL;
	memcpy(n->bytes, id, id_len);
	n->bytes[id_len] = '\0';
	memcpy(n->bytes + id_len + 1, input, input_len);
	n->bytes[id_len + 1 + input_len] = '\0';
	memcpy(n->bytes + id_len + input_len + 2, response, response_len);
	n->bytes[size + 2] = '\0';
	sh = convstore_shard_of(s, hash);
	pthread_mutex_lock(&sh->lock);
	slot = convstore_slot(s, sh, hash, id, id_len);
	if (*slot != NULL)
		convstore_remove(sh, slot);
	while (sh->count > 0 && (sh->count + 1 > s->max_entries || sh->bytes + size > s->max_bytes))
		convstore_evict_oldest(s, sh);
	slot = convstore_slot(s, sh, hash, id, id_len);
	*slot = n;
	convstore_push_newest(sh, n);
	sh->count++;
	sh->bytes += size;
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

static bool convstore_expired(const struct convstore *s, const struct convstore_node *n, uint64_t now)
{
	return now >= n->stored_ms + s->ttl_ms;
}

static char *convstore_copy(const char *from, size_t len)
{
	char *p = malloc(len + 1);

	if (p != NULL) {
		memcpy(p, from, len);
		p[len] = '\0';
	}
	return p;
}

bool convstore_get(struct convstore *s, const char *id, uint64_t now, struct convstore_entry *e)
{
	size_t id_len = strlen(id);
	uint64_t hash = convstore_hash(id, id_len);
	struct convstore_shard *sh;
	struct convstore_node **slot, *n;
	bool found = false;

	memset(e, 0, sizeof *e);
	if (convstore_off(s) || id_len == 0 || id_len > CONVSTORE_MAX_ID)
		return false;
	sh = convstore_shard_of(s, hash);
	pthread_mutex_lock(&sh->lock);
	slot = convstore_slot(s, sh, hash, id, id_len);
	n = *slot;
	if (n != NULL && convstore_expired(s, n, now)) {
		convstore_remove(sh, slot);
		n = NULL;
	}
	if (n != NULL) {
		e->input = convstore_copy(n->bytes + n->id_len + 1, n->input_len);
		e->response = convstore_copy(n->bytes + n->id_len + n->input_len + 2, n->response_len);
		e->input_len = n->input_len;
		e->response_len = n->response_len;
		e->stored_ms = n->stored_ms;
		convstore_unlink_lru(sh, n);
		convstore_push_newest(sh, n);
		found = e->input != NULL && e->response != NULL;
	}
	pthread_mutex_unlock(&sh->lock);
	if (!found)
		convstore_entry_free(e);
	return found;
}

bool convstore_forget(struct convstore *s, const char *id, uint64_t now)
{
	size_t id_len = strlen(id);
	uint64_t hash = convstore_hash(id, id_len);
	struct convstore_shard *sh;
	struct convstore_node **slot;
	bool live = false;

	if (convstore_off(s) || id_len == 0 || id_len > CONVSTORE_MAX_ID)
		return false;
	sh = convstore_shard_of(s, hash);
	pthread_mutex_lock(&sh->lock);
	slot = convstore_slot(s, sh, hash, id, id_len);
	if (*slot != NULL) {
		live = !convstore_expired(s, *slot, now);
		convstore_remove(sh, slot);
	}
	pthread_mutex_unlock(&sh->lock);
	return live;
}

void convstore_entry_free(struct convstore_entry *e)
{
	free(e->input);
	free(e->response);
	memset(e, 0, sizeof *e);
}

size_t convstore_entries(struct convstore *s)
{
	size_t i, n = 0;

	for (i = 0; s != NULL && i < s->nshards; i++) {
		pthread_mutex_lock(&s->shards[i].lock);
		n += s->shards[i].count;
		pthread_mutex_unlock(&s->shards[i].lock);
	}
	return n;
}

size_t convstore_bytes(struct convstore *s)
{
	size_t i, n = 0;

	for (i = 0; s != NULL && i < s->nshards; i++) {
		pthread_mutex_lock(&s->shards[i].lock);
		n += s->shards[i].bytes;
		pthread_mutex_unlock(&s->shards[i].lock);
	}
	return n;
}

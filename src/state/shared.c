/* shared.c — what several detourd instances share through Redis: breaker moves, Retry-After holds, operator choices, the half-open probe's lease, cached answers and Responses conversations, on a thread of its own. */
#include "shared.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "loop.h"
#include "redis.h"
#include "timers.h"

/* What a message's key command is, and what its reply means. */
enum shared_op {
	SHARED_OP_SET,    /* SET key value [PX ttl]; or DEL key */
	SHARED_OP_LEASE,  /* SET probe:NAME instance NX PX ttl: who probes */
	SHARED_OP_FETCH,  /* GET key, PTTL key: a local miss asks the second tier */
};

/* One thing to tell: a key command, then the same payload published. Owns its bytes. */
struct shared_msg {
	struct shared_msg *next;
	enum shared_op op;
	char upstream[SHAREDSTATE_NAME_MAX]; /* LEASE: which upstream */
	struct shared_fetch *fetch;         /* FETCH: whom the reply goes to */
	int argc;
	const char *argv[6];
	size_t lens[6];
	char *payload;                      /* published on prefix "events"; NULL: nothing */
	size_t payload_len;
	char bytes[];                       /* argv's texts */
};

struct shared_binding {
	const struct config *cfg;
	struct upstream *upstreams;
	size_t nupstreams;
	struct degrade *degrade;
	struct cache *cache;
	struct convstore *store;
};

struct shared_mailbox {
	pthread_mutex_t lock;     /* guards what follows; fd is fixed */
	int fd;                   /* eventfd the worker's loop watches */
	int refs;                 /* the worker's (until closed), and one per fetch not yet freed */
	bool closed;
	struct shared_fetch *done; /* posted, not yet delivered */
};

/* Written by the shared thread until posted; after that the worker's alone. */
struct shared_fetch {
	struct shared_fetch *next; /* in the mailbox's done list */
	struct shared *sh;
	struct shared_mailbox *mb;
	enum shared_tier tier;
	shared_fetch_fn *fn;       /* NULL once cancelled (the worker writes it, the worker reads it) */
	void *arg;
	bool found;
	int replies;               /* GET and PTTL replies still to come */
	char *value;               /* GET's reply, kept until PTTL's comes */
	size_t value_len;
	int64_t pttl_ms;           /* -1: unknown, the local copy lives a whole TTL */
	size_t key_len;
	char key[];
};

struct shared {
	char *url;
	char *password;
	char *prefix;
	uint64_t timeout_ms;
	char instance[SHAREDSTATE_NAME_MAX];
	char channel[300];

	pthread_t thread;
	bool started;
	struct loop loop;
	struct timers timers;
	int wakefd;
	struct loop_watch wake_watch;
	struct timer recheck;
	struct redis *cmd;        /* keys and PUBLISH */
	struct redis *sub;        /* the subscription */
	bool outage_told;         /* the warn line of this outage is written */

	pthread_mutex_t lock;     /* guards what follows */
	struct shared_binding bind;
	struct shared_msg *head, *tail;
	size_t nout;
	bool stop;

	atomic_bool up;
	atomic_uint_fast64_t errors;
};

static void shared_fetch_drop(struct shared_msg *m);

static void shared_error(struct shared *sh)
{
	atomic_fetch_add_explicit(&sh->errors, 1, memory_order_relaxed);
}

/* ---- building messages (any thread) --------------------------------------------- */

/* A message with a key command of argc texts (len -1: strlen) and a payload to publish. */
static struct shared_msg *shared_msg_new(enum shared_op op, int argc, const char *const *texts, const size_t *lens,
					 const char *payload, size_t payload_len)
{
	size_t total = payload_len, n[6];
	struct shared_msg *m;
	char *at;

	for (int i = 0; i < argc; i++)
		total += n[i] = lens != NULL && lens[i] != SIZE_MAX ? lens[i] : strlen(texts[i]);
	m = calloc(1, sizeof *m + total + (size_t)argc + 1);
	if (m == NULL)
		return NULL;
	m->op = op;
	m->argc = argc;
	at = m->bytes;
	for (int i = 0; i < argc; i++) {
		memcpy(at, texts[i], n[i]);
		at[n[i]] = '\0';
		m->argv[i] = at;
		m->lens[i] = n[i];
		at += n[i] + 1;
	}
	if (payload != NULL) {
		memcpy(at, payload, payload_len);
		m->payload = at;
		m->payload_len = payload_len;
	}
	return m;
}

static void shared_wake(struct shared *sh)
{
	uint64_t one = 1;

	if (write(sh->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
		shared_error(sh);
}

static void shared_enqueue(struct shared *sh, struct shared_msg *m)
{
	if (m == NULL) {
		shared_error(sh);
		return;
	}
	pthread_mutex_lock(&sh->lock);
	if (sh->nout >= SHARED_OUTBOX_MAX) {
		pthread_mutex_unlock(&sh->lock);
		shared_fetch_drop(m);
		free(m);
		shared_error(sh);
		return;
	}
	if (sh->tail != NULL)
		sh->tail->next = m;
	else
		sh->head = m;
	sh->tail = m;
	sh->nout++;
	pthread_mutex_unlock(&sh->lock);
	shared_wake(sh);
}

/* The key and message that tell u's breaker as it is now. */
static struct shared_msg *shared_state_msg(struct shared *sh, struct upstream *u, bool operator_choice)
{
	struct sharedstate s;
	char line[SHAREDSTATE_LINE_MAX], key[400], ttl[24];
	uint64_t ms;
	int n;

	upstream_describe(u, clock_now_ms(), sh->instance, operator_choice, &s);
	n = sharedstate_encode(&s, line, sizeof line);
	if (n < 0)
		return NULL;
	snprintf(key, sizeof key, "%sbreaker:%s", sh->prefix, u->cfg->name);
	ms = sharedstate_key_ttl(&s);
	if (s.mode == BREAKER_AUTO && s.state == BREAKER_CLOSED && s.hold_in_ms == 0)
		return shared_msg_new(SHARED_OP_SET, 2, (const char *[]){ "DEL", key }, NULL, line, (size_t)n);
	if (ms == 0)
		return shared_msg_new(SHARED_OP_SET, 3, (const char *[]){ "SET", key, line }, NULL, line, (size_t)n);
	snprintf(ttl, sizeof ttl, "%" PRIu64, ms);
	return shared_msg_new(SHARED_OP_SET, 5, (const char *[]){ "SET", key, line, "PX", ttl }, NULL, line,
			      (size_t)n);
}

static struct shared_msg *shared_lease_msg(struct shared *sh, struct upstream *u)
{
	char key[400], ttl[24];
	struct shared_msg *m;

	snprintf(key, sizeof key, "%sprobe:%s", sh->prefix, u->cfg->name);
	/* One cooldown: the next half-open comes a cooldown (or a grown one) after
	 * the probe's verdict, by when the lease is free again; a prober that dies
	 * frees it too. */
	snprintf(ttl, sizeof ttl, "%" PRIu64, u->cfg->breaker.cooldown_ms);
	m = shared_msg_new(SHARED_OP_LEASE, 6, (const char *[]){ "SET", key, sh->instance, "NX", "PX", ttl }, NULL,
			   NULL, 0);
	if (m != NULL)
		snprintf(m->upstream, sizeof m->upstream, "%s", u->cfg->name);
	return m;
}

static void shared_on_upstream(void *arg, struct upstream *u, enum upstream_event ev)
{
	struct shared *sh = arg;

	if (ev == UPSTREAM_EVENT_LEASE) {
		if (!atomic_load(&sh->up))
			upstream_set_lease(u, UPSTREAM_LEASE_OFF);
		else
			shared_enqueue(sh, shared_lease_msg(sh, u));
		return;
	}
	shared_enqueue(sh, shared_state_msg(sh, u, ev == UPSTREAM_EVENT_OPERATOR));
}

void shared_tell_degradation(struct shared *sh, enum config_level level)
{
	char line[SHAREDSTATE_LINE_MAX], key[400];
	int n;

	if (sh == NULL)
		return;
	n = snprintf(line, sizeof line, "D %s %s", sh->instance, config_level_name(level));
	snprintf(key, sizeof key, "%sdegradation", sh->prefix);
	if (level == CONFIG_LEVEL_AUTO)
		shared_enqueue(sh, shared_msg_new(SHARED_OP_SET, 2, (const char *[]){ "DEL", key }, NULL, line,
						  (size_t)n));
	else
		shared_enqueue(sh, shared_msg_new(SHARED_OP_SET, 3, (const char *[]){ "SET", key, line }, NULL, line,
						  (size_t)n));
}

/* An answer stored here: the same key and TTL in Redis, and told to the others now. */
static void shared_on_cache(void *arg, const char *key, size_t key_len, const char *answer, size_t answer_len,
			    enum config_level level)
{
	struct shared *sh = arg;
	char head[SHAREDSTATE_LINE_MAX], rkey_head[300], ttl[24];
	struct buf payload, rkey;
	int n;

	pthread_mutex_lock(&sh->lock);
	snprintf(ttl, sizeof ttl, "%" PRIu64, cache_ttl(sh->bind.cache));
	pthread_mutex_unlock(&sh->lock);
	n = snprintf(head, sizeof head, "C %s %u %zu\n", sh->instance, (unsigned)level, key_len);
	snprintf(rkey_head, sizeof rkey_head, "%scache:", sh->prefix);
	buf_init(&payload, (size_t)n + key_len + answer_len + 1);
	buf_init(&rkey, strlen(rkey_head) + key_len + 1);
	if (buf_append(&payload, head, (size_t)n) == 0 && buf_append(&payload, key, key_len) == 0 &&
	    buf_append(&payload, answer, answer_len) == 0 && buf_append_str(&rkey, rkey_head) == 0 &&
	    buf_append(&rkey, key, key_len) == 0)
		shared_enqueue(sh, shared_msg_new(SHARED_OP_SET, 5,
						  (const char *[]){ "SET", rkey.data, payload.data, "PX", ttl },
						  (const size_t[]){ 3, rkey.len, payload.len, 2, SIZE_MAX },
						  payload.data, payload.len));
	else
		shared_error(sh);
	buf_free(&payload);
	buf_free(&rkey);
}

/* A conversation stored or deleted here: the same in Redis, and told to the others now. */
static void shared_on_conversation(void *arg, const char *id, const char *input, size_t input_len,
				   const char *response, size_t response_len)
{
	struct shared *sh = arg;
	char head[SHAREDSTATE_LINE_MAX], key[400], ttl[24];
	size_t id_len = strlen(id);
	struct buf payload;
	int n;

	snprintf(key, sizeof key, "%sconv:%s", sh->prefix, id);
	if (response == NULL) {
		n = snprintf(head, sizeof head, "X %s %s", sh->instance, id);
		shared_enqueue(sh, shared_msg_new(SHARED_OP_SET, 2, (const char *[]){ "DEL", key }, NULL, head,
						  (size_t)n));
		return;
	}
	pthread_mutex_lock(&sh->lock);
	snprintf(ttl, sizeof ttl, "%" PRIu64, convstore_ttl(sh->bind.store));
	pthread_mutex_unlock(&sh->lock);
	n = snprintf(head, sizeof head, "S %s %zu %zu\n", sh->instance, id_len, input_len);
	buf_init(&payload, (size_t)n + id_len + input_len + response_len + 1);
	if (buf_append(&payload, head, (size_t)n) == 0 && buf_append(&payload, id, id_len) == 0 &&
	    buf_append(&payload, input, input_len) == 0 && buf_append(&payload, response, response_len) == 0)
		shared_enqueue(sh, shared_msg_new(SHARED_OP_SET, 5, (const char *[]){ "SET", key, payload.data, "PX", ttl },
						  (const size_t[]){ 3, SIZE_MAX, payload.len, 2, SIZE_MAX },
						  payload.data, payload.len));
	else
		shared_error(sh);
	buf_free(&payload);
}

/* ---- applying what others tell (the Redis thread) --------------------------------- */

static struct upstream *shared_find(struct shared *sh, const char *name)
{
	for (size_t i = 0; i < sh->bind.nupstreams; i++)
		if (strcmp(sh->bind.upstreams[i].cfg->name, name) == 0)
			return &sh->bind.upstreams[i];
	return NULL;
}

static void shared_apply_breaker(struct shared *sh, const char *text, size_t len)
{
	struct sharedstate s;
	struct upstream *u;

	if (sharedstate_decode(text, len, &s) != 0 || strcmp(s.instance, sh->instance) == 0)
		return;
	pthread_mutex_lock(&sh->lock);
	u = shared_find(sh, s.upstream);
	if (u != NULL)
		upstream_merge(u, &s, clock_now_ms());
	pthread_mutex_unlock(&sh->lock);
}

static void shared_apply_degradation(struct shared *sh, const char *text, size_t len)
{
	char line[SHAREDSTATE_LINE_MAX], who[SHAREDSTATE_NAME_MAX], name[32];
	enum config_level level;

	if (len >= sizeof line)
		return;
	memcpy(line, text, len);
	line[len] = '\0';
	if (sscanf(line, "D %127s %31s", who, name) != 2 || strcmp(who, sh->instance) == 0 ||
	    degrade_parse_level(name, &level) != 0)
		return;
	pthread_mutex_lock(&sh->lock);
	if (sh->bind.degrade != NULL && config_level_servable(sh->bind.cfg, level) &&
	    degrade_mode(sh->bind.degrade) != level) {
		degrade_set_mode(sh->bind.degrade, level);
		log_warn("degradation set by an operator on another instance",
			 LOG_STR("level_pinned", config_level_name(level)), LOG_STR("instance", who));
	}
	pthread_mutex_unlock(&sh->lock);
}

/* Puts a cache message (published, or a key read) into the local cache as stored at
 * stored_ms; mine_too: also one this instance told. True when it was one. */
static bool shared_take_cache(struct shared *sh, const char *text, size_t len, uint64_t stored_ms, bool mine_too)
{
	const char *nl = memchr(text, '\n', len < SHAREDSTATE_LINE_MAX ? len : SHAREDSTATE_LINE_MAX);
	char line[SHAREDSTATE_LINE_MAX], who[SHAREDSTATE_NAME_MAX];
	unsigned level;
	size_t key_len, rest;

	if (nl == NULL)
		return false;
	memcpy(line, text, (size_t)(nl - text));
	line[nl - text] = '\0';
	rest = len - (size_t)(nl - text) - 1;
	if (sscanf(line, "C %127s %u %zu", who, &level, &key_len) != 3 || (!mine_too && strcmp(who, sh->instance) == 0) ||
	    key_len > rest || level > CONFIG_LEVEL_MINIMAL)
		return false;
	pthread_mutex_lock(&sh->lock);
	cache_adopt(sh->bind.cache, nl + 1, key_len, nl + 1 + key_len, rest - key_len, (enum config_level)level,
		    stored_ms);
	pthread_mutex_unlock(&sh->lock);
	return true;
}

static void shared_apply_cache(struct shared *sh, const char *text, size_t len)
{
	shared_take_cache(sh, text, len, clock_now_ms(), false);
}

/* Puts a conversation message into the local store as stored at stored_ms (mine_too: as
 * shared_take_cache). True when it was kept. */
static bool shared_take_conversation(struct shared *sh, const char *text, size_t len, uint64_t stored_ms,
				     bool mine_too)
{
	const char *nl = memchr(text, '\n', len < SHAREDSTATE_LINE_MAX ? len : SHAREDSTATE_LINE_MAX);
	char line[SHAREDSTATE_LINE_MAX], who[SHAREDSTATE_NAME_MAX], id[CONVSTORE_MAX_ID + 1];
	size_t id_len, input_len, rest;
	int rc;

	if (nl == NULL)
		return false;
	memcpy(line, text, (size_t)(nl - text));
	line[nl - text] = '\0';
	rest = len - (size_t)(nl - text) - 1;
	if (sscanf(line, "S %127s %zu %zu", who, &id_len, &input_len) != 3 ||
	    (!mine_too && strcmp(who, sh->instance) == 0) || id_len == 0 || id_len > CONVSTORE_MAX_ID ||
	    id_len > rest || input_len > rest - id_len)
		return false;
	memcpy(id, nl + 1, id_len);
	id[id_len] = '\0';
	pthread_mutex_lock(&sh->lock);
	rc = convstore_adopt(sh->bind.store, id, nl + 1 + id_len, input_len, nl + 1 + id_len + input_len,
			     rest - id_len - input_len, stored_ms);
	pthread_mutex_unlock(&sh->lock);
	return rc == 0;
}

static void shared_apply_conversation(struct shared *sh, const char *text, size_t len)
{
	shared_take_conversation(sh, text, len, clock_now_ms(), false);
}

static void shared_apply_forget(struct shared *sh, const char *text, size_t len)
{
	char line[SHAREDSTATE_LINE_MAX], who[SHAREDSTATE_NAME_MAX], id[CONVSTORE_MAX_ID + 1];

	if (len >= sizeof line)
		return;
	memcpy(line, text, len);
	line[len] = '\0';
	if (sscanf(line, "X %127s %128s", who, id) != 2 || strcmp(who, sh->instance) == 0)
		return;
	pthread_mutex_lock(&sh->lock);
	if (!convstore_off(sh->bind.store))
		convstore_forget(sh->bind.store, id, clock_now_ms());
	pthread_mutex_unlock(&sh->lock);
}

static void shared_apply(struct shared *sh, const char *text, size_t len)
{
	if (len < 2)
		return;
	if (text[0] == 'B')
		shared_apply_breaker(sh, text, len);
	else if (text[0] == 'D')
		shared_apply_degradation(sh, text, len);
	else if (text[0] == 'C')
		shared_apply_cache(sh, text, len);
	else if (text[0] == 'S')
		shared_apply_conversation(sh, text, len);
	else if (text[0] == 'X')
		shared_apply_forget(sh, text, len);
}

static void shared_on_message(void *arg, const redisReply *reply)
{
	struct shared *sh = arg;
	const redisReply *payload;

	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING || strcmp(reply->element[0]->str, "message") != 0)
		return;
	payload = reply->element[2];
	if (payload->type == REDIS_REPLY_STRING)
		shared_apply(sh, payload->str, payload->len);
}

/* A key read at resync: its text is a message like the published ones. */
static void shared_on_get(void *arg, const redisReply *reply)
{
	struct shared *sh = arg;

	if (reply == NULL) {
		shared_error(sh);
		return;
	}
	if (reply->type == REDIS_REPLY_STRING)
		shared_apply(sh, reply->str, reply->len);
}

/* A key read by the periodic refresh: only what holds whatever the time (an
 * operator's choice, the pinned level), since an open state's wait was
 * counted from when it was written. */
static void shared_on_refresh(void *arg, const redisReply *reply)
{
	struct shared *sh = arg;
	struct sharedstate s;

	if (reply == NULL) {
		shared_error(sh);
		return;
	}
	if (reply->type != REDIS_REPLY_STRING)
		return;
	if (reply->str[0] == 'D' ||
	    (sharedstate_decode(reply->str, reply->len, &s) == 0 && s.operator_choice))
		shared_apply(sh, reply->str, reply->len);
}

/* Reads the keys of every upstream and the pin, with fn for each reply. */
static void shared_read_keys(struct shared *sh, redis_reply_fn *fn)
{
	char key[400];
	const char *argv[2] = { "GET", key };

	for (size_t i = 0; i < sh->bind.nupstreams; i++) {
		snprintf(key, sizeof key, "%sbreaker:%s", sh->prefix, sh->bind.upstreams[i].cfg->name);
		if (redis_command(sh->cmd, fn, sh, false, 2, argv, NULL) != 0)
			shared_error(sh);
	}
	snprintf(key, sizeof key, "%sdegradation", sh->prefix);
	if (redis_command(sh->cmd, fn, sh, false, 2, argv, NULL) != 0)
		shared_error(sh);
}

static void shared_on_reply(void *arg, const redisReply *reply)
{
	struct shared *sh = arg;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		shared_error(sh);
}

struct shared_lease_ask {
	struct shared *sh;
	char upstream[SHAREDSTATE_NAME_MAX];
};

static void shared_on_lease(void *arg, const redisReply *reply)
{
	struct shared_lease_ask *ask = arg;
	struct shared *sh = ask->sh;
	struct upstream *u;
	enum upstream_lease lease = UPSTREAM_LEASE_OFF; /* no answer: decide alone */

	if (reply != NULL && reply->type == REDIS_REPLY_STATUS)
		lease = UPSTREAM_LEASE_MINE;
	else if (reply != NULL && reply->type == REDIS_REPLY_NIL)
		lease = UPSTREAM_LEASE_ELSEWHERE;
	else
		shared_error(sh);
	pthread_mutex_lock(&sh->lock);
	u = shared_find(sh, ask->upstream);
	if (u != NULL)
		upstream_set_lease(u, lease);
	pthread_mutex_unlock(&sh->lock);
	if (u != NULL && lease == UPSTREAM_LEASE_MINE)
		log_info("half-open probe lease taken", LOG_STR("upstream", ask->upstream));
	free(ask);
}

/* ---- the second tier: fetches (the shared thread, then the worker) ------------------ */

struct shared_mailbox *shared_mailbox_create(void)
{
	struct shared_mailbox *mb = calloc(1, sizeof *mb);

	if (mb == NULL)
		return NULL;
	mb->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mb->fd < 0) {
		free(mb);
		return NULL;
	}
	pthread_mutex_init(&mb->lock, NULL);
	mb->refs = 1;
	return mb;
}

int shared_mailbox_fd(const struct shared_mailbox *mb)
{
	return mb->fd;
}

/* Drops n references (mb's lock held by the caller, who unlocks); true when none is left. */
static bool shared_mailbox_unref(struct shared_mailbox *mb, int n)
{
	mb->refs -= n;
	return mb->refs == 0;
}

static void shared_mailbox_free(struct shared_mailbox *mb)
{
	close(mb->fd);
	pthread_mutex_destroy(&mb->lock);
	free(mb);
}

static void shared_fetch_free(struct shared_fetch *f)
{
	free(f->value);
	free(f);
}

/* The fetch is over (found or not): to its worker's mailbox, or dropped when the worker is gone. */
static void shared_fetch_post(struct shared_fetch *f, bool found)
{
	struct shared_mailbox *mb = f->mb;
	uint64_t one = 1;
	bool last = false;

	f->found = found;
	free(f->value);
	f->value = NULL;
	pthread_mutex_lock(&mb->lock);
	if (mb->closed) {
		last = shared_mailbox_unref(mb, 1);
		shared_fetch_free(f);
	} else {
		f->next = mb->done;
		mb->done = f;
		if (write(mb->fd, &one, sizeof one) < 0 && errno != EAGAIN)
			shared_error(f->sh);
	}
	pthread_mutex_unlock(&mb->lock);
	if (last)
		shared_mailbox_free(mb);
}

void shared_mailbox_deliver(struct shared_mailbox *mb)
{
	struct shared_fetch *f, *next;
	uint64_t n;
	int count = 0;

	if (read(mb->fd, &n, sizeof n) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&mb->lock);
	f = mb->done;
	mb->done = NULL;
	pthread_mutex_unlock(&mb->lock);
	for (; f != NULL; f = next) {
		next = f->next;
		if (f->fn != NULL)
			f->fn(f->arg, f->found);
		shared_fetch_free(f);
		count++;
	}
	/* The worker holds its own reference: the mailbox outlives this. */
	pthread_mutex_lock(&mb->lock);
	shared_mailbox_unref(mb, count);
	pthread_mutex_unlock(&mb->lock);
}

void shared_mailbox_close(struct shared_mailbox *mb)
{
	struct shared_fetch *f, *next;
	int count = 1;
	bool last;

	if (mb == NULL)
		return;
	pthread_mutex_lock(&mb->lock);
	mb->closed = true;
	for (f = mb->done; f != NULL; f = next) {
		next = f->next;
		shared_fetch_free(f);
		count++;
	}
	mb->done = NULL;
	last = shared_mailbox_unref(mb, count);
	pthread_mutex_unlock(&mb->lock);
	if (last)
		shared_mailbox_free(mb);
}

struct shared_fetch *shared_fetch(struct shared *sh, struct shared_mailbox *mb, enum shared_tier tier,
				  const char *key, size_t key_len, shared_fetch_fn *fn, void *arg)
{
	const char *kind = tier == SHARED_TIER_CACHE ? "cache:" : "conv:";
	struct shared_fetch *f;
	struct shared_msg *m = NULL;
	struct buf rkey;

	if (sh == NULL || mb == NULL || !atomic_load(&sh->up))
		return NULL;
	f = calloc(1, sizeof *f + key_len + 1);
	buf_init(&rkey, strlen(sh->prefix) + strlen(kind) + key_len + 1);
	if (f == NULL || buf_append_str(&rkey, sh->prefix) != 0 || buf_append_str(&rkey, kind) != 0 ||
	    buf_append(&rkey, key, key_len) != 0)
		goto fail;
	m = shared_msg_new(SHARED_OP_FETCH, 2, (const char *[]){ "GET", rkey.data }, (const size_t[]){ 3, rkey.len },
			   NULL, 0);
	if (m == NULL)
		goto fail;
	f->sh = sh;
	f->mb = mb;
	f->tier = tier;
	f->fn = fn;
	f->arg = arg;
	f->pttl_ms = -1;
	f->key_len = key_len;
	memcpy(f->key, key, key_len);
	m->fetch = f;
	pthread_mutex_lock(&mb->lock);
	mb->refs++;
	pthread_mutex_unlock(&mb->lock);
	shared_enqueue(sh, m); /* a message dropped (a full outbox) reaches shared_fetch_drop */
	buf_free(&rkey);
	return f;
fail:
	shared_error(sh);
	buf_free(&rkey);
	free(f);
	return NULL;
}

void shared_fetch_cancel(struct shared_fetch *f)
{
	if (f != NULL)
		f->fn = NULL;
}

/* Both replies are in: the value into the local tier, expiring when Redis's copy does. */
static void shared_fetch_finish(struct shared_fetch *f)
{
	struct shared *sh = f->sh;
	uint64_t now = clock_now_ms(), stored = now, ttl;
	bool found = false;

	if (f->value != NULL) {
		pthread_mutex_lock(&sh->lock);
		ttl = f->tier == SHARED_TIER_CACHE ? cache_ttl(sh->bind.cache) : convstore_ttl(sh->bind.store);
		pthread_mutex_unlock(&sh->lock);
		if (f->pttl_ms >= 0 && (uint64_t)f->pttl_ms < ttl && ttl - (uint64_t)f->pttl_ms <= now)
			stored = now - (ttl - (uint64_t)f->pttl_ms);
		if (f->tier == SHARED_TIER_CACHE && f->value[0] == 'C')
			found = shared_take_cache(sh, f->value, f->value_len, stored, true);
		else if (f->tier == SHARED_TIER_CONVERSATION && f->value[0] == 'S')
			found = shared_take_conversation(sh, f->value, f->value_len, stored, true);
	}
	shared_fetch_post(f, found);
}

static void shared_on_fetch_value(void *arg, const redisReply *reply)
{
	struct shared_fetch *f = arg;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		shared_error(f->sh);
	if (reply != NULL && reply->type == REDIS_REPLY_STRING && reply->len > 0) {
		f->value = malloc(reply->len + 1);
		if (f->value != NULL) {
			memcpy(f->value, reply->str, reply->len);
			f->value[reply->len] = '\0';
			f->value_len = reply->len;
		}
	}
	if (--f->replies == 0)
		shared_fetch_finish(f);
}

static void shared_on_fetch_ttl(void *arg, const redisReply *reply)
{
	struct shared_fetch *f = arg;

	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		f->pttl_ms = reply->integer;
	if (--f->replies == 0)
		shared_fetch_finish(f);
}

/* GET then PTTL on the same key, pipelined: one round trip. */
static void shared_send_fetch(struct shared *sh, struct shared_msg *m)
{
	struct shared_fetch *f = m->fetch;
	const char *argv[2] = { "PTTL", m->argv[1] };
	size_t lens[2] = { 4, m->lens[1] };

	m->fetch = NULL;
	f->replies = 2;
	if (redis_command(sh->cmd, shared_on_fetch_value, f, false, m->argc, m->argv, m->lens) != 0) {
		shared_error(sh);
		shared_fetch_post(f, false);
		return;
	}
	if (redis_command(sh->cmd, shared_on_fetch_ttl, f, false, 2, argv, lens) != 0)
		f->replies--; /* the value alone then: the local copy lives a whole TTL */
}

/* A fetch that is not sent (Redis down, the thread stopping, a full outbox): a miss now. */
static void shared_fetch_drop(struct shared_msg *m)
{
	if (m->fetch != NULL)
		shared_fetch_post(m->fetch, false);
	m->fetch = NULL;
}

static void shared_send(struct shared *sh, struct shared_msg *m)
{
	const char *argv[3];
	size_t lens[3];
	struct shared_lease_ask *ask;

	if (!redis_is_up(sh->cmd)) {
		shared_error(sh);
		shared_fetch_drop(m);
		return;
	}
	if (m->op == SHARED_OP_FETCH) {
		shared_send_fetch(sh, m);
		return;
	}
	if (m->op == SHARED_OP_LEASE) {
		ask = calloc(1, sizeof *ask);
		if (ask == NULL)
			return;
		ask->sh = sh;
		snprintf(ask->upstream, sizeof ask->upstream, "%s", m->upstream);
		if (redis_command(sh->cmd, shared_on_lease, ask, false, m->argc, m->argv, m->lens) != 0) {
			shared_on_lease(ask, NULL);
		}
		return;
	}
	if (redis_command(sh->cmd, shared_on_reply, sh, false, m->argc, m->argv, m->lens) != 0)
		shared_error(sh);
	if (m->payload == NULL)
		return;
	argv[0] = "PUBLISH";
	argv[1] = sh->channel;
	argv[2] = m->payload;
	lens[0] = 7;
	lens[1] = strlen(sh->channel);
	lens[2] = m->payload_len;
	if (redis_command(sh->cmd, shared_on_reply, sh, false, 3, argv, lens) != 0)
		shared_error(sh);
}

static void shared_drain(struct shared *sh)
{
	struct shared_msg *m, *next;

	pthread_mutex_lock(&sh->lock);
	m = sh->head;
	sh->head = sh->tail = NULL;
	sh->nout = 0;
	pthread_mutex_unlock(&sh->lock);
	for (; m != NULL; m = next) {
		next = m->next;
		shared_send(sh, m);
		free(m);
	}
}

static void shared_on_wake(struct loop_watch *w, uint32_t events)
{
	struct shared *sh = w->arg;
	uint64_t n;

	(void)events;
	if (read(sh->wakefd, &n, sizeof n) < 0 && errno != EAGAIN)
		shared_error(sh);
	shared_drain(sh);
}

/* ---- connection state, resync ----------------------------------------------------- */

static void shared_set_leases(struct shared *sh, bool up)
{
	for (size_t i = 0; i < sh->bind.nupstreams; i++)
		upstream_set_lease(&sh->bind.upstreams[i], up ? UPSTREAM_LEASE_NONE : UPSTREAM_LEASE_OFF);
}

/* Redis is back (or there for the first time): read what others left, then say what this instance holds. */
static void shared_resync(struct shared *sh)
{
	struct shared_msg *m;

	pthread_mutex_lock(&sh->lock);
	shared_set_leases(sh, true);
	shared_read_keys(sh, shared_on_get);
	/* What moved here while Redis was away: open breakers and forced modes of this instance's own. */
	for (size_t i = 0; i < sh->bind.nupstreams; i++) {
		struct upstream *u = &sh->bind.upstreams[i];
		struct upstream_view v;

		upstream_view(u, clock_now_ms(), &v);
		if (v.origin[0] != '\0' || (v.state == BREAKER_CLOSED && v.mode == BREAKER_AUTO))
			continue;
		m = shared_state_msg(sh, u, v.mode != BREAKER_AUTO);
		if (m != NULL)
			shared_send(sh, m);
		free(m);
	}
	pthread_mutex_unlock(&sh->lock);
}

static void shared_on_cmd_state(void *arg, bool up)
{
	struct shared *sh = arg;

	atomic_store(&sh->up, up);
	if (up) {
		if (sh->outage_told)
			log_info("shared Redis is back; resynchronising", LOG_STR("instance", sh->instance));
		sh->outage_told = false;
		shared_resync(sh);
		shared_drain(sh);
		return;
	}
	shared_error(sh);
	pthread_mutex_lock(&sh->lock);
	shared_set_leases(sh, false);
	pthread_mutex_unlock(&sh->lock);
	if (!sh->outage_told)
		log_warn("shared Redis unreachable; every instance works on its own state until it returns",
			 LOG_STR("instance", sh->instance));
	sh->outage_told = true;
}

static void shared_on_sub_state(void *arg, bool up)
{
	struct shared *sh = arg;
	const char *argv[2] = { "SUBSCRIBE", sh->channel };

	if (up && redis_command(sh->sub, shared_on_message, sh, true, 2, argv, NULL) != 0)
		shared_error(sh);
}

/* A lease asked for long ago, or held by another, is asked again: its prober may be gone. */
static void shared_on_recheck(struct timer *t)
{
	struct shared *sh = t->arg;

	pthread_mutex_lock(&sh->lock);
	for (size_t i = 0; i < sh->bind.nupstreams; i++) {
		struct upstream *u = &sh->bind.upstreams[i];
		int lease = atomic_load(&u->lease);

		if (lease == UPSTREAM_LEASE_ELSEWHERE || lease == UPSTREAM_LEASE_ASKED)
			atomic_compare_exchange_strong(&u->lease, &lease, UPSTREAM_LEASE_NONE);
	}
	/* A message missed (instances reconnecting at different moments) is read back from its key. */
	if (redis_is_up(sh->cmd))
		shared_read_keys(sh, shared_on_refresh);
	pthread_mutex_unlock(&sh->lock);
	timers_arm(&sh->timers, &sh->recheck, clock_now_ms() + SHARED_LEASE_RECHECK_MS);
}

static void *shared_main(void *arg)
{
	struct shared *sh = arg;
	char err[200];

	sh->cmd = redis_create(&sh->loop, &sh->timers, sh->url, sh->password, sh->timeout_ms, shared_on_cmd_state, sh,
			       err, sizeof err);
	sh->sub = redis_create(&sh->loop, &sh->timers, sh->url, sh->password, sh->timeout_ms, shared_on_sub_state, sh,
			       err, sizeof err);
	timers_arm(&sh->timers, &sh->recheck, clock_now_ms() + SHARED_LEASE_RECHECK_MS);
	for (;;) {
		uint64_t now = clock_now_ms(), next;
		bool stop;

		timers_run_due(&sh->timers, now);
		pthread_mutex_lock(&sh->lock);
		stop = sh->stop;
		pthread_mutex_unlock(&sh->lock);
		if (stop)
			break;
		next = timers_next(&sh->timers);
		now = clock_now_ms();
		if (loop_run_once(&sh->loop, next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now)) < 0)
			break;
	}
	redis_free(sh->cmd);
	redis_free(sh->sub);
	sh->cmd = sh->sub = NULL;
	timers_disarm(&sh->timers, &sh->recheck);
	return NULL;
}

/* "host-pid": unique among instances, readable in /circuits and the logs. */
static void shared_name_instance(struct shared *sh)
{
	char host[64] = "detour";

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "detour");
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ')
			*p = '_';
	snprintf(sh->instance, sizeof sh->instance, "%s-%ld", host, (long)getpid());
}

static void shared_free(struct shared *sh)
{
	struct shared_msg *m, *next;

	for (m = sh->head; m != NULL; m = next) {
		next = m->next;
		shared_fetch_drop(m);
		free(m);
	}
	timers_free(&sh->timers);
	if (sh->wakefd >= 0)
		close(sh->wakefd);
	loop_free(&sh->loop);
	pthread_mutex_destroy(&sh->lock);
	free(sh->url);
	if (sh->password != NULL)
		explicit_bzero(sh->password, strlen(sh->password));
	free(sh->password);
	free(sh->prefix);
	free(sh);
}

struct shared *shared_start(const struct config *cfg, char *err, size_t errlen)
{
	struct shared *sh = calloc(1, sizeof *sh);
	char host[256], path[256];
	unsigned port, db;
	int rc;

	if (sh == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sh->wakefd = -1;
	pthread_mutex_init(&sh->lock, NULL);
	timers_init(&sh->timers);
	timer_init(&sh->recheck, shared_on_recheck, sh);
	loop_watch_init(&sh->wake_watch, shared_on_wake, sh);
	atomic_init(&sh->up, false);
	atomic_init(&sh->errors, 0);
	if (redis_parse_url(cfg->shared.redis, host, sizeof host, &port, path, sizeof path, &db) != 0) {
		snprintf(err, errlen, "shared.redis cannot be read");
		goto fail;
	}
	sh->url = strdup(cfg->shared.redis);
	sh->password = cfg->shared.password != NULL ? strdup(cfg->shared.password) : NULL;
	sh->prefix = strdup(cfg->shared.prefix != NULL ? cfg->shared.prefix : SHARED_PREFIX);
	sh->timeout_ms = cfg->shared.timeout_ms;
	shared_name_instance(sh);
	snprintf(sh->channel, sizeof sh->channel, "%sevents", sh->prefix != NULL ? sh->prefix : "");
	sh->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sh->url == NULL || sh->prefix == NULL || (cfg->shared.password != NULL && sh->password == NULL) ||
	    sh->wakefd < 0 || loop_init(&sh->loop) != 0 ||
	    loop_watch_fd(&sh->loop, &sh->wake_watch, sh->wakefd, EPOLLIN) != 0) {
		snprintf(err, errlen, "shared: %s", strerror(errno != 0 ? errno : ENOMEM));
		goto fail;
	}
	rc = pthread_create(&sh->thread, NULL, shared_main, sh);
	if (rc != 0) {
		snprintf(err, errlen, "shared: pthread_create: %s", strerror(rc));
		goto fail;
	}
	sh->started = true;
	log_info("sharing state through Redis", LOG_STR("instance", sh->instance), LOG_STR("prefix", sh->prefix));
	return sh;
fail:
	shared_free(sh);
	return NULL;
}

void shared_stop(struct shared *sh)
{
	if (sh == NULL)
		return;
	if (sh->started) {
		pthread_mutex_lock(&sh->lock);
		sh->stop = true;
		pthread_mutex_unlock(&sh->lock);
		shared_wake(sh);
		pthread_join(sh->thread, NULL);
	}
	shared_free(sh);
}

static bool shared_same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool shared_same(const struct shared *sh, const struct config *cfg)
{
	return sh != NULL && cfg->shared.redis != NULL && strcmp(sh->url, cfg->shared.redis) == 0 &&
	       shared_same_text(sh->password, cfg->shared.password) &&
	       strcmp(sh->prefix, cfg->shared.prefix != NULL ? cfg->shared.prefix : SHARED_PREFIX) == 0 &&
	       sh->timeout_ms == cfg->shared.timeout_ms;
}

void shared_bind(struct shared *sh, const struct config *cfg, struct upstream *upstreams, size_t nupstreams,
		 struct degrade *degrade, struct cache *cache, struct convstore *store)
{
	bool up = atomic_load(&sh->up);

	pthread_mutex_lock(&sh->lock);
	sh->bind.cfg = cfg;
	sh->bind.upstreams = upstreams;
	sh->bind.nupstreams = nupstreams;
	sh->bind.degrade = degrade;
	sh->bind.cache = cache;
	sh->bind.store = store;
	for (size_t i = 0; i < nupstreams; i++) {
		upstreams[i].observer = shared_on_upstream;
		upstreams[i].observer_arg = sh;
	}
	shared_set_leases(sh, up);
	cache_set_observer(cache, shared_on_cache, sh);
	convstore_set_observer(store, shared_on_conversation, sh);
	pthread_mutex_unlock(&sh->lock);
}

bool shared_up(const struct shared *sh)
{
	return sh != NULL && atomic_load(&((struct shared *)sh)->up);
}

uint64_t shared_timeout(const struct shared *sh)
{
	return sh->timeout_ms;
}

const char *shared_instance(const struct shared *sh)
{
	return sh->instance;
}

int shared_render_metrics(const struct shared *sh, struct buf *out)
{
	return buf_printf(out,
			  "# HELP detour_shared_up Whether the shared Redis answers (1) or not (0).\n"
			  "# TYPE detour_shared_up gauge\n"
			  "detour_shared_up %d\n"
			  "# HELP detour_shared_errors_total Redis operations that failed, timed out or were dropped.\n"
			  "# TYPE detour_shared_errors_total counter\n"
			  "detour_shared_errors_total %" PRIu64 "\n",
			  shared_up(sh) ? 1 : 0,
			  (uint64_t)atomic_load(&((struct shared *)sh)->errors));
}

/* upstream.c — one upstream at run time: the URLs and headers detour sends it, and the state every worker shares. */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dialect_table.h"
#include "headerpass.h"
#include "clock.h"
#include "log.h"

static char *upstream_join(const char *base, const char *path)
{
	size_t n = strlen(base) + strlen(path) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s", base, path);
	return s;
}

static struct curl_slist *upstream_add(struct curl_slist *list, const char *line, bool *ok)
{
	struct curl_slist *next;

	if (!*ok)
		return list;
	next = curl_slist_append(list, line);
	if (next == NULL) {
		*ok = false;
		return list;
	}
	return next;
}

/* Where the dialect's header lines go while a list is built. */
struct upstream_list {
	struct curl_slist *list;
	bool *ok;
};

static void upstream_add_line(void *arg, const char *line)
{
	struct upstream_list *l = arg;

	l->list = upstream_add(l->list, line, l->ok);
}

/* The headers that carry the upstream's own key; the client's never go out. */
static struct curl_slist *upstream_auth_headers(const struct upstream *u, struct curl_slist *list, bool *ok)
{
	struct upstream_list l = { list, ok };

	u->dialect->headers(u->cfg, upstream_add_line, &l);
	return l.list;
}

int upstream_init(struct upstream *u, const struct config_upstream *cfg, char *err, size_t errlen)
{
	bool ok = true;

	memset(u, 0, sizeof *u);
	u->cfg = cfg;
	pthread_mutex_init(&u->lock, NULL);
	breaker_init(&u->breaker, &cfg->breaker);
	u->dialect = dialect_table_for(cfg->provider);
	u->forward = cfg->forward_set ? (const char *const *)cfg->forward_headers : u->dialect->forward_headers;
	u->url_chat = upstream_join(cfg->base_url, u->dialect->path(REQUEST_CHAT));
	u->url_completions = upstream_join(cfg->base_url, u->dialect->path(REQUEST_COMPLETIONS));
	u->url_embeddings = upstream_join(cfg->base_url, u->dialect->path(REQUEST_EMBEDDINGS));
	u->url_models = upstream_join(cfg->base_url, "/models");
	u->url_responses = upstream_join(cfg->base_url, "/responses");
	if (!u->url_chat || !u->url_completions || !u->url_embeddings || !u->url_models || !u->url_responses)
		ok = false;

	/* curl would wait for "100 Continue" before sending a larger body.
	 * First, so that a smaller body's call can go without it (upstream_headers_for_body). */
	u->headers = upstream_add(NULL, UPSTREAM_NO_EXPECT, &ok);
	u->headers = upstream_add(u->headers, "Content-Type: application/json", &ok);
	u->headers = upstream_add(u->headers, "User-Agent: detour/" DETOUR_VERSION, &ok);
	u->headers = upstream_auth_headers(u, u->headers, &ok);
	u->probe_headers = upstream_add(NULL, "User-Agent: detour/" DETOUR_VERSION, &ok);
	u->probe_headers = upstream_auth_headers(u, u->probe_headers, &ok);
	if (!ok) {
		snprintf(err, errlen, "upstream %s: out of memory", cfg->name);
		upstream_free(u);
		return -1;
	}
	return 0;
}

void upstream_free(struct upstream *u)
{
	free(u->url_chat);
	free(u->url_responses);
	free(u->url_completions);
	free(u->url_embeddings);
	free(u->url_models);
	curl_slist_free_all(u->headers);
	curl_slist_free_all(u->probe_headers);
	pthread_mutex_destroy(&u->lock);
	memset(u, 0, sizeof *u);
}

int upstream_call_headers(const struct upstream *u, upstream_client_header lookup, void *arg,
			  struct curl_slist **out)
{
	struct curl_slist *list = NULL;
	char line[CONFIG_HEADER_NAME_MAX + HEADERPASS_VALUE_MAX + 4];
	bool ok = true;

	*out = NULL;
	for (size_t i = 0; u->forward != NULL && u->forward[i] != NULL; i++) {
		const char *value = lookup(arg, u->forward[i]);

		if (value == NULL || headerpass_forward_line(u->forward[i], value, line, sizeof line) != 0)
			continue;
		/* The first header to forward: from here the call needs a list of its own. */
		for (const struct curl_slist *n = list == NULL ? u->headers : NULL; n != NULL; n = n->next)
			list = upstream_add(list, n->data, &ok);
		list = upstream_add(list, line, &ok);
	}
	if (!ok) {
		upstream_call_headers_free(list);
		return -1;
	}
	*out = list;
	return 0;
}

const struct curl_slist *upstream_headers_for_body(const struct curl_slist *list, size_t body_len)
{
	if (body_len <= UPSTREAM_EXPECT_THRESHOLD && list != NULL && strcmp(list->data, UPSTREAM_NO_EXPECT) == 0)
		return list->next;
	return list;
}

void upstream_call_headers_free(struct curl_slist *list)
{
	for (struct curl_slist *n = list; n != NULL; n = n->next)
		explicit_bzero(n->data, strlen(n->data));
	curl_slist_free_all(list);
}

void upstream_carry(struct upstream *u, struct upstream *from)
{
	if (strcmp(u->cfg->base_url, from->cfg->base_url) != 0 || u->dialect != from->dialect)
		return;
	atomic_store(&u->requests, atomic_load(&from->requests));
	atomic_store(&u->successes, atomic_load(&from->successes));
	atomic_store(&u->failures, atomic_load(&from->failures));
	for (size_t f = 0; f < 3; f++)
		for (size_t t = 0; t < 3; t++)
			atomic_store(&u->transitions[f][t], atomic_load(&from->transitions[f][t]));
	pthread_mutex_lock(&from->lock);
	u->last_error = from->last_error;
	breaker_carry(&u->breaker, &from->breaker);
	u->health_at_wall_ms = from->health_at_wall_ms;
	u->health_ok = from->health_ok;
	memcpy(u->health_error, from->health_error, sizeof u->health_error);
	pthread_mutex_unlock(&from->lock);
}

const char *upstream_url(const struct upstream *u, enum request_kind kind)
{
	switch (kind) {
	case REQUEST_CHAT: return u->url_chat;
	case REQUEST_COMPLETIONS: return u->url_completions;
	case REQUEST_EMBEDDINGS: return u->url_embeddings;
	}
	return u->url_chat;
}

static void upstream_tell(struct upstream *u, enum upstream_event ev)
{
	if (u->observer != NULL)
		u->observer(u->observer_arg, u, ev);
}

/* With breakers shared, one instance probes: a probe goes only under this
 * instance's lease. *ask is set when the lease is to be asked for now. */
static bool upstream_lease_allows(struct upstream *u, bool *ask)
{
	int lease = atomic_load(&u->lease), none = UPSTREAM_LEASE_NONE;

	if (lease == UPSTREAM_LEASE_OFF || lease == UPSTREAM_LEASE_MINE)
		return true;
	if (lease == UPSTREAM_LEASE_NONE && atomic_compare_exchange_strong(&u->lease, &none, UPSTREAM_LEASE_ASKED))
		*ask = true;
	return false;
}

/* A probe the breaker admitted (*a) goes only under the lease: otherwise it
 * is given back and *a becomes a refusal. True when it was refused. Under u->lock. */
static bool upstream_probe_refused(struct upstream *u, enum breaker_admission *a, bool *ask)
{
	if (*a != BREAKER_PROBE || upstream_lease_allows(u, ask))
		return false;
	breaker_abandon(&u->breaker, true);
	*a = BREAKER_REJECT;
	return true;
}

enum breaker_admission upstream_admit(struct upstream *u, uint64_t now, enum breaker_reason *why)
{
	enum breaker_admission a;
	bool ask = false;

	pthread_mutex_lock(&u->lock);
	a = breaker_admit(&u->breaker, now, why);
	if (upstream_probe_refused(u, &a, &ask))
		*why = BREAKER_REASON_PROBING;
	pthread_mutex_unlock(&u->lock);
	if (ask)
		upstream_tell(u, UPSTREAM_EVENT_LEASE);
	return a;
}

enum breaker_admission upstream_admit_early(struct upstream *u, uint64_t now)
{
	enum breaker_admission a;

	bool ask = false;

	pthread_mutex_lock(&u->lock);
	a = breaker_admit_early(&u->breaker, now);
	upstream_probe_refused(u, &a, &ask);
	pthread_mutex_unlock(&u->lock);
	if (ask)
		upstream_tell(u, UPSTREAM_EVENT_LEASE);
	if (a == BREAKER_PROBE)
		log_info("every target refused: an early probe goes", LOG_STR("upstream", u->cfg->name));
	return a;
}

/* Counts and logs a move of u's breaker; why says what moved it ("call" or "health_check"). */
static void upstream_log_move(struct upstream *u, enum breaker_state before, enum breaker_state after,
			      const char *why)
{
	int lease = atomic_load(&u->lease);

	if (before != after && (unsigned)before < 3 && (unsigned)after < 3)
		atomic_fetch_add_explicit(&u->transitions[before][after], 1, memory_order_relaxed);
	/* A new state, a new question of who probes. */
	if (before != after && lease != UPSTREAM_LEASE_OFF)
		atomic_compare_exchange_strong(&u->lease, &lease, UPSTREAM_LEASE_NONE);
	if (before != after && strcmp(why, "shared") != 0)
		upstream_tell(u, UPSTREAM_EVENT_MOVED);
	if (before != after)
		log_event(after == BREAKER_CLOSED ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "circuit moved",
			  LOG_STR("upstream", u->cfg->name), LOG_STR("from", breaker_state_name(before)),
			  LOG_STR("to", breaker_state_name(after)), LOG_STR("by", why));
}

void upstream_probe_answered(struct upstream *u, uint64_t now)
{
	enum breaker_state before, after;

	pthread_mutex_lock(&u->lock);
	before = u->breaker.state;
	breaker_success(&u->breaker, now, true);
	after = u->breaker.state;
	if (after != before)
		u->origin[0] = '\0';
	pthread_mutex_unlock(&u->lock);
	upstream_log_move(u, before, after, "call");
}

bool upstream_needs_health(struct upstream *u, uint64_t now)
{
	bool needs;

	pthread_mutex_lock(&u->lock);
	needs = u->breaker.mode == BREAKER_AUTO &&
		(breaker_state(&u->breaker, now) != BREAKER_CLOSED || now < u->breaker.hold_until_ms);
	pthread_mutex_unlock(&u->lock);
	return needs;
}

uint64_t upstream_health_interval(const struct upstream *u)
{
	const struct config_upstream *cfg = u->cfg;
	uint64_t every = cfg->breaker.cooldown_ms / 4;

	if (cfg->health_check.off)
		return 0;
	if (cfg->health_check.enabled)
		return cfg->health_check.interval_ms;
	return every < UPSTREAM_HEALTH_MIN_MS ? UPSTREAM_HEALTH_MIN_MS : every;
}

bool upstream_health_always(const struct upstream *u)
{
	return u->cfg->health_check.enabled;
}

uint64_t upstream_next_admission(struct upstream *u, uint64_t now)
{
	uint64_t at;

	pthread_mutex_lock(&u->lock);
	at = breaker_next_admission(&u->breaker, now);
	pthread_mutex_unlock(&u->lock);
	return at;
}

void upstream_record(struct upstream *u, uint64_t now, enum upstream_verdict verdict, bool was_probe,
		     bool success, unsigned status, int64_t retry_after_ms, const char *error)
{
	enum breaker_state before, after;

	atomic_fetch_add_explicit(&u->requests, 1, memory_order_relaxed);
	if (success)
		atomic_fetch_add_explicit(&u->successes, 1, memory_order_relaxed);
	if (verdict == UPSTREAM_FAULT)
		atomic_fetch_add_explicit(&u->failures, 1, memory_order_relaxed);
	pthread_mutex_lock(&u->lock);
	before = u->breaker.state;
	switch (verdict) {
	case UPSTREAM_ANSWERED:
		breaker_success(&u->breaker, now, was_probe);
		break;
	case UPSTREAM_FAULT:
		breaker_failure(&u->breaker, now, was_probe, retry_after_ms);
		u->last_error.status = status;
		snprintf(u->last_error.message, sizeof u->last_error.message, "%s", error != NULL ? error : "");
		u->last_error.at_wall_ms = clock_wall_ms();
		break;
	case UPSTREAM_NO_VERDICT:
		breaker_abandon(&u->breaker, was_probe);
		break;
	}
	after = u->breaker.state;
	if (after != before)
		u->origin[0] = '\0';
	pthread_mutex_unlock(&u->lock);
	upstream_log_move(u, before, after, "call");
	if (verdict == UPSTREAM_FAULT && retry_after_ms > 0)
		upstream_tell(u, UPSTREAM_EVENT_HOLD);
}

void upstream_health(struct upstream *u, uint64_t now, bool ok, unsigned status, const char *error)
{
	enum breaker_state before, after;

	pthread_mutex_lock(&u->lock);
	before = u->breaker.state;
	breaker_health(&u->breaker, now, ok);
	after = breaker_state(&u->breaker, now);
	if (after != before)
		u->origin[0] = '\0';
	u->health_at_wall_ms = clock_wall_ms();
	u->health_ok = ok;
	snprintf(u->health_error, sizeof u->health_error, "%s", ok || error == NULL ? "" : error);
	if (!ok) {
		u->last_error.status = status;
		snprintf(u->last_error.message, sizeof u->last_error.message, "health check: %s",
			 error != NULL ? error : "failed");
		u->last_error.at_wall_ms = u->health_at_wall_ms;
	}
	pthread_mutex_unlock(&u->lock);
	upstream_log_move(u, before, after, "health_check");
}

void upstream_set_mode(struct upstream *u, enum breaker_mode mode, uint64_t now)
{
	pthread_mutex_lock(&u->lock);
	breaker_set_mode(&u->breaker, mode, now);
	u->origin[0] = '\0';
	pthread_mutex_unlock(&u->lock);
	log_warn("circuit set by an operator", LOG_STR("upstream", u->cfg->name), LOG_STR("mode", breaker_mode_name(mode)));
	upstream_tell(u, UPSTREAM_EVENT_OPERATOR);
}

bool upstream_merge(struct upstream *u, const struct sharedstate *s, uint64_t now)
{
	enum breaker_state before, after;
	enum breaker_mode mode_before;
	bool changed;

	pthread_mutex_lock(&u->lock);
	before = breaker_state(&u->breaker, now);
	mode_before = u->breaker.mode;
	changed = sharedstate_merge(&u->breaker, s, now);
	after = breaker_state(&u->breaker, now);
	if (changed)
		snprintf(u->origin, sizeof u->origin, "%s", s->instance);
	pthread_mutex_unlock(&u->lock);
	if (mode_before != s->mode && s->operator_choice)
		log_warn("circuit set by an operator on another instance", LOG_STR("upstream", u->cfg->name),
			 LOG_STR("mode", breaker_mode_name(s->mode)), LOG_STR("instance", s->instance));
	upstream_log_move(u, before, after, "shared");
	return changed;
}

void upstream_describe(struct upstream *u, uint64_t now, const char *instance, bool operator_choice,
		       struct sharedstate *out)
{
	pthread_mutex_lock(&u->lock);
	sharedstate_describe(&u->breaker, now, instance, u->cfg->name, operator_choice, out);
	pthread_mutex_unlock(&u->lock);
}

void upstream_set_lease(struct upstream *u, enum upstream_lease lease)
{
	atomic_store(&u->lease, (int)lease);
}

void upstream_view(struct upstream *u, uint64_t now, struct upstream_view *out)
{
	struct breaker *b = &u->breaker;

	memset(out, 0, sizeof *out);
	out->requests = atomic_load_explicit(&u->requests, memory_order_relaxed);
	out->successes = atomic_load_explicit(&u->successes, memory_order_relaxed);
	out->failures = atomic_load_explicit(&u->failures, memory_order_relaxed);
	pthread_mutex_lock(&u->lock);
	out->state = breaker_state(b, now);
	out->mode = b->mode;
	out->failures_in_window = breaker_failures_in_window(b, now);
	out->consecutive_failures = b->consecutive;
	out->last_error = u->last_error;
	if (b->opened_at_ms != 0)
		out->opened_at_wall_ms = clock_mono_to_wall(b->opened_at_ms);
	if (out->state == BREAKER_OPEN && b->mode == BREAKER_AUTO)
		out->retry_at_wall_ms = clock_mono_to_wall(b->retry_at_ms);
	if (b->hold_until_ms > now)
		out->hold_until_wall_ms = clock_mono_to_wall(b->hold_until_ms);
	out->cooldown_ms = b->cooldown_ms;
	out->probes_in_flight = b->probes;
	out->health_at_wall_ms = u->health_at_wall_ms;
	out->health_ok = u->health_ok;
	memcpy(out->health_error, u->health_error, sizeof out->health_error);
	memcpy(out->origin, u->origin, sizeof out->origin);
	pthread_mutex_unlock(&u->lock);
}

void upstream_redact(const struct upstream *u, char *s)
{
	upstream_redact_bytes(u, s, strlen(s));
}

/* The length of the key's first part (4 bytes or more) that ends s, or 0.
 * Its first byte is compared before the rest: the key is long and nearly
 * every text ends in something else. */
static size_t upstream_key_tail(const char *key, size_t klen, const char *s, size_t len)
{
	size_t n;

	for (n = klen - 1 < len ? klen - 1 : len; n >= 4; n--) {
		if (s[len - n] == key[0] && memcmp(s + len - n, key, n) == 0)
			return n;
	}
	return 0;
}

bool upstream_redacts(const struct upstream *u, const char *s, size_t len)
{
	const char *key = u->cfg->api_key;
	size_t klen;

	if (key == NULL || (klen = strlen(key)) < 4)
		return false;
	return memmem(s, len, key, klen) != NULL || upstream_key_tail(key, klen, s, len) > 0;
}

void upstream_redact_bytes(const struct upstream *u, char *s, size_t len)
{
	const char *key = u->cfg->api_key;
	size_t klen, n;
	char *at = s, *hit;

	if (key == NULL || (klen = strlen(key)) < 4)
		return;
	while ((hit = memmem(at, len - (size_t)(at - s), key, klen)) != NULL) {
		memset(hit, '*', klen);
		at = hit + klen;
	}
	/* A text cut short may end in the first part of the key. */
	if ((n = upstream_key_tail(key, klen, s, len)) > 0)
		memset(s + len - n, '*', n);
}

void upstream_describe_status(const struct upstream *u, unsigned status, const char *body, size_t len,
			      char *out, size_t outlen)
{
	json_t *root = NULL, *message;
	const char *text = NULL;

	if (status == 401 || status == 403) {
		snprintf(out, outlen, "%s", status == 401 ? "authentication failed" : "permission denied");
		return;
	}
	if (body != NULL && len > 0 && len < 65536)
		root = json_loadb(body, len, 0, NULL);
	/* OpenAI: {"error":{"message":...}}; Anthropic: {"type":"error","error":{"message":...}}. */
	message = json_object_get(json_object_get(root, "error"), "message");
	if (json_is_string(message))
		text = json_string_value(message);
	else if (json_is_string(json_object_get(root, "error")))
		text = json_string_value(json_object_get(root, "error"));
	if (text != NULL && text[0] != '\0')
		snprintf(out, outlen, "%s", text);
	else
		snprintf(out, outlen, "HTTP %u", status);
	upstream_redact(u, out);
	json_decref(root);
}

uint64_t upstream_transitions(const struct upstream *u, enum breaker_state from, enum breaker_state to)
{
	if ((unsigned)from >= 3 || (unsigned)to >= 3)
		return 0;
	return atomic_load_explicit(&u->transitions[from][to], memory_order_relaxed);
}

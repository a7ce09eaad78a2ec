/* proxy.c — the attempt loop: one exchange tried on the targets of its route, in order, until one answers. */
#include "proxy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "backoff.h"
#include "cache.h"
#include "clock.h"
#include "continuation.h"
#include "completion.h"
#include "degrade.h"
#include "dialect.h"
#include "engine.h"
#include "invariant.h"
#include "context.h"
#include "exchange.h"
#include "headerpass.h"
#include "ingress.h"
#include "jsonscan.h"
#include "log.h"
#include "outcome.h"
#include "router.h"
#include "seam.h"
#include "stream.h"
#include "tierwait.h"
#include "upstream.h"
#include "usage.h"
#include "runtime.h"

/* curl's timeouts cannot be 0 (that means none). */
#define PROXY_MIN_TIMEOUT_MS 1

/*
 * A request whose every target was refused (open breakers, holds) and that
 * got no early probe waits this long at most for the verdict a probe or a
 * health check is about to give, looking again every PROXY_REFUSED_LOOK_MS,
 * before its 503. Shorter than BREAKER_EARLY_GAP_MS: the wait lets no more
 * calls through than the breaker's own rules, it only keeps a request from
 * failing in the instant an upstream is being found healthy again.
 */
#define PROXY_REFUSED_WAIT_MS 500
#define PROXY_REFUSED_LOOK_MS 50

static void proxy_on_done(void *arg, struct engine_response *r);
static void proxy_settle(struct exchange *x, struct engine_response *r);
static void proxy_stream_ended(struct exchange *x, const struct engine_response *r, bool fault, const char *words);
static void proxy_stream_commit(struct exchange *x, struct MHD_Response *r, const struct engine_response *from);
static bool proxy_stream_cut(struct exchange *x, const struct engine_response *r, const char *words);
static void proxy_stream_resumed(struct exchange *x);
static void proxy_next(struct exchange *x);

/* How proxy_try looks at a target. */
enum proxy_pass {
	PROXY_FIRST, /* in the level's order */
	PROXY_AGAIN, /* before giving up: a target its breaker or a hold refused earlier */
	PROXY_EARLY, /* an early probe through an open breaker or a hold */
};

/* What proxy_try did. */
enum proxy_tried {
	PROXY_STARTED, /* a call is under way */
	PROXY_PASSED,  /* passed over for good (tried already, the dialect, detour's own failure) */
	PROXY_REFUSED, /* refused by its breaker or a hold: worth a look again before giving up */
};
static const struct exchange_producer proxy_producer;
static void proxy_level_begin(struct exchange *x);
static void proxy_translate_error(const struct dialect *d, struct engine_response *r);

static const struct engine_handlers proxy_handlers = {
	.on_headers = NULL,
	.on_data = NULL,
	.on_done = proxy_on_done,
};

/* How a streamed attempt reports back to the loop. */
static const struct stream_owner proxy_stream_owner = {
	.settle = proxy_settle,
	.commit = proxy_stream_commit,
	.ended = proxy_stream_ended,
	.cut = proxy_stream_cut,
	.resumed = proxy_stream_resumed,
};

static uint64_t proxy_min(uint64_t a, uint64_t b)
{
	uint64_t m = a < b ? a : b;

	return m < PROXY_MIN_TIMEOUT_MS ? PROXY_MIN_TIMEOUT_MS : m;
}

static bool proxy_past_deadline(const struct exchange *x, uint64_t now)
{
	return now >= x->deadline_ms;
}

/*
 * The body target's upstream is sent, in its dialect, into *body (NULL: the
 * client's bytes). Returns what the dialect made of it; DIALECT_REFUSED fills no.
 */
static enum dialect_built proxy_body(struct exchange *x, const struct upstream *u, const struct dialect *d,
				     const json_t *client, const struct request_changes *changes, bool stream, char **body,
				     size_t *len, struct refusal *no)
{
	struct dialect_call call = { &x->request, changes, u->cfg, stream, client, NULL, 0 };

	if (x->attempt.continuing) {
		call.partial = x->attempt.partial;
		call.partial_len = x->attempt.partial_len;
	}

	/* No dialect: the ingress said why in no. */
	if (d == NULL)
		return DIALECT_REFUSED;

	refusal_clear(no);
	return d->request(&call, body, len, no);
}

static void proxy_release_retry(struct exchange *x)
{
	if (x->attempt.holds_retry) {
		DETOUR_ASSERT(atomic_load(&x->ctx->rt->retries_active) > 0);
		atomic_fetch_sub(&x->ctx->rt->retries_active, 1);
		x->attempt.holds_retry = false;
	}
}

/* Takes one unit of the daemon-wide retry budget unless x holds one. False: spent. */
static bool proxy_hold_retry(struct exchange *x)
{
	struct runtime *rt = x->ctx->rt;

	if (x->attempt.holds_retry)
		return true;
	if (!backoff_budget_allows(atomic_load(&rt->requests_active), atomic_load(&rt->retries_active)))
		return false;
	atomic_fetch_add(&rt->retries_active, 1);
	x->attempt.holds_retry = true;
	return true;
}

/* Notes that some target takes calls again at at (monotonic ms; 0: unknown). */
static void proxy_note_earliest(struct exchange *x, uint64_t at)
{
	if (at != 0 && (x->attempt.earliest_retry_ms == 0 || at < x->attempt.earliest_retry_ms))
		x->attempt.earliest_retry_ms = at;
}

/* Notes when a refused upstream could next be called (for Retry-After). */
static void proxy_note_refusal(struct exchange *x, struct upstream *u, uint64_t now)
{
	uint64_t at = upstream_next_admission(u, now);

	if (at > now)
		proxy_note_earliest(x, at);
}

/* Records a target passed over (held: by its Retry-After pause), and when it could be called again. */
static void proxy_skip(struct exchange *x, struct upstream *u, const char *why, bool held, uint64_t now)
{
	uint64_t at = upstream_next_admission(u, now);

	if (held)
		attempts_add_held(&x->attempts, u->cfg->name, why);
	else
		attempts_add_skip(&x->attempts, u->cfg->name, why);
	metrics_attempt(x->ctx->metrics, u->cfg->index, METRICS_ATTEMPT_SKIPPED);
	if (at > now)
		proxy_note_earliest(x, at);
}

/* A call answered 429: its upstream takes calls again when its pause (or
 * breaker) lets it, or at once when nothing holds it. */
static void proxy_note_rate_limit(struct exchange *x, struct upstream *u, uint64_t now)
{
	uint64_t at = upstream_next_admission(u, now);

	proxy_note_earliest(x, at > now ? at : now);
}

/*
 * Records a target passed over because it cannot say the request (why, a
 * sentence; param, the parameter at fault or ""): the client's mistake. The
 * first refusal is kept for the 400 the client gets should every target refuse.
 */
static void proxy_refused(struct exchange *x, struct upstream *u, const char *why, const char *param, uint64_t now)
{
	attempt_loop_note_refusal(&x->attempt, u->cfg->name, why, param);
	x->attempt.unsayable++;
	proxy_skip(x, u, why, false, now);
}


/* Asks u's breaker about a call on this pass; an early probe also needs the retry budget. */
static enum breaker_admission proxy_admit(struct exchange *x, struct upstream *u, enum proxy_pass pass, uint64_t now,
					  enum breaker_reason *reason)
{
	enum breaker_admission admission;

	if (pass != PROXY_EARLY)
		return upstream_admit(u, now, reason);
	*reason = BREAKER_REASON_OPEN;
	if (!proxy_hold_retry(x))
		return BREAKER_REJECT;
	admission = upstream_admit_early(u, now);
	if (admission == BREAKER_REJECT)
		proxy_release_retry(x);
	return admission;
}

static bool proxy_tried(const struct exchange *x, const struct config_upstream *u, const char *model)
{
	return attempt_loop_tried(&x->attempt, u, model);
}

static void proxy_note_tried(struct exchange *x, const struct config_upstream *u, const char *model)
{
	attempt_loop_note_tried(&x->attempt, u, model);
}

static const char *proxy_client_header(void *arg, const char *name)
{
	struct exchange *x = arg;

	return x->connection != NULL ? MHD_lookup_connection_value(x->connection, MHD_HEADER_KIND, name) : NULL;
}

/* The header lines of the next call to u: its own, plus the client's headers
 * meant for it (forward_headers). Returns 0, or -1 when out of memory. */
static int proxy_call_headers(struct exchange *x, const struct upstream *u)
{
	/* The last call has settled (one at a time), so its list is free to go. */
	upstream_call_headers_free(x->attempt.call_headers);
	x->attempt.call_headers = NULL;
	return upstream_call_headers(u, proxy_client_header, x, &x->attempt.call_headers);
}

/* Starts a call to target on pass. A target passed over on the first pass is
 * recorded in the attempts; a later pass records only the calls it makes. */
static enum proxy_tried proxy_try(struct exchange *x, const struct config_target *target, uint64_t now,
				  enum proxy_pass pass)
{
	struct context *ctx = x->ctx;
	const struct config *cfg = ctx->rt->cfg;
	const struct config_upstream *ucfg = target->upstream;
	struct upstream *u = runtime_upstream(ctx->rt, ucfg);
	struct request_changes changes;
	struct engine_request req;
	const struct dialect *d;
	const char *why, *model, *url = NULL;
	const json_t *client = NULL;
	char *body = NULL;
	struct refusal cannot;
	size_t body_len = 0;
	uint64_t remaining = x->deadline_ms - now;
	enum breaker_reason reason;
	enum breaker_admission admission;
	enum dialect_built built;
	bool stream;

	/* One call at a time: a new one starts only once the last has settled. */
	DETOUR_ASSERT(x->transfer == NULL);
	degrade_changes(cfg, x->attempt.level, target, &changes);
	model = changes.model != NULL ? changes.model : x->request.model;
	/* A lower level does not call (or list) again what a higher one called or passed over. */
	if (pass == PROXY_FIRST && x->attempt.target_tries == 0 && proxy_tried(x, ucfg, model))
		return PROXY_PASSED;
	/* The client's API picks how the target is spoken to; a target that
	 * cannot serve what the client asked is passed over like a refusal. */
	refusal_clear(&cannot);
	d = ingress_of(x)->target(x, u, &url, &client, cannot.why, sizeof cannot.why);
	if (d == NULL)
		refusal_sentence(cannot.why, sizeof cannot.why);
	why = d != NULL ? d->unsupported(x->request.kind) : NULL;
	if (why != NULL) {
		/* The route, named by model, cannot serve this endpoint. */
		proxy_refused(x, u, why, "model", now);
		proxy_note_tried(x, ucfg, model);
		return PROXY_PASSED;
	}
	/* Before the breaker is asked: a request the dialect cannot say is the
	 * client's mistake and says nothing about the upstream. */
	stream = x->request.stream && !(changes.drop & CONFIG_DROP_STREAM);
	/* A continuation goes on in the client's stream: only a target that streams can. */
	if (x->attempt.continuing && (!stream || client != NULL))
		return PROXY_PASSED;
	built = proxy_body(x, u, d, client, &changes, stream, &body, &body_len, &cannot);
	if (built == DIALECT_REFUSED) {
		proxy_refused(x, u, cannot.why, cannot.param, now);
		proxy_note_tried(x, ucfg, model);
		return PROXY_PASSED;
	}
	if (built == DIALECT_FAILED) {
		attempts_add_failure(&x->attempts, ucfg->name, 0, "detour could not start the call", 0);
		return PROXY_PASSED;
	}
	admission = proxy_admit(x, u, pass, now, &reason);
	if (admission == BREAKER_REJECT) {
		free(body);
		if (pass == PROXY_FIRST)
			proxy_skip(x, u, breaker_reason_text(reason), reason == BREAKER_REASON_RETRY_AFTER, now);
		else
			proxy_note_refusal(x, u, now);
		proxy_note_tried(x, ucfg, model);
		return PROXY_REFUSED;
	}
	x->attempt.probe = admission == BREAKER_PROBE;
	x->attempt.target = target;
	x->upstream = u;
	x->asked_model = model;
	x->attempt.dialect = d;
	x->attempt.upstream_stream = stream;
	free(x->attempt.upstream_body);
	x->attempt.upstream_body = body;
	if (proxy_call_headers(x, u) != 0)
		goto internal;
	memset(&req, 0, sizeof req);
	/* The bytes the request was parsed from: the client's, or what its ingress made of them. */
	req.body = body != NULL ? body : x->request.body;
	req.body_len = body != NULL ? body_len : x->request.len;
	req.url = url;
	req.headers = upstream_headers_for_body(x->attempt.call_headers != NULL ? x->attempt.call_headers : u->headers,
						req.body_len);
	req.keep_header = headerpass_answer_kept;
	req.connect_timeout_ms = proxy_min(ucfg->timeouts.connect_ms, remaining);
	req.first_byte_timeout_ms = proxy_min(ucfg->timeouts.first_byte_ms, remaining);
	req.idle_timeout_ms = ucfg->timeouts.idle_ms;
	req.total_timeout_ms = proxy_min(ucfg->timeouts.total_ms, remaining);
	req.max_response = cfg->server.max_response;
	req.receive_buffer = stream ? STREAM_RECEIVE_BUFFER : 0;
	x->attempt.native_client = client != NULL;
	if (x->attempt.continuing) {
		if (stream_continue_begin(x, d, ucfg->name) != 0)
			goto internal;
	} else if (x->attempt.upstream_stream &&
		   (stream_attempt_begin(x, d, ingress_of(x)->cacheable(x) ? cache_max_answer(ctx->rt->cache) : 0,
					 &proxy_stream_owner) != 0 ||
		    (config_route_streams(cfg, x->attempt.route).on_cut == CONFIG_ON_CUT_CONTINUE &&
		     stream_allow_continue(x) != 0))) {
		goto internal;
	}
	x->transfer = ctx->engine_ops->submit(ctx->engine, &req, x->attempt.upstream_stream ? &stream_handlers : &proxy_handlers, x);
	if (x->transfer == NULL)
		goto internal;
	x->transfer_started_ms = now;
	x->attempt.target_tries++;
	proxy_note_tried(x, ucfg, model);
	return PROXY_STARTED;
internal:
	upstream_record(u, now, UPSTREAM_NO_VERDICT, x->attempt.probe, false, 0, -1, NULL);
	x->attempt.probe = false;
	proxy_release_retry(x);
	attempts_add_failure(&x->attempts, ucfg->name, 0, "detour could not start the call", 0);
	return PROXY_PASSED;
}

/* Adds Retry-After and retry-after-ms for a wait until earliest (cap_ms 0: none). */
static void proxy_retry_after(struct MHD_Response *r, uint64_t earliest, uint64_t now, uint64_t cap_ms)
{
	uint64_t seconds, ms;
	char value[24];

	attempts_retry_after(earliest, now, cap_ms, &seconds, &ms);
	snprintf(value, sizeof value, "%llu", (unsigned long long)seconds);
	MHD_add_response_header(r, "Retry-After", value);
	snprintf(value, sizeof value, "%llu", (unsigned long long)ms);
	MHD_add_response_header(r, "retry-after-ms", value);
}

/*
 * Adds the retry signals SDKs read: after a 502 detour has already retried
 * and fallen over, so the SDK should not run the chain again; a 429 says when
 * the first target takes calls again; a 503 when the first breaker half-opens,
 * capped, since that is detour's guess and not an upstream's word.
 */
static void proxy_retry_signals(struct exchange *x, struct MHD_Response *r, enum attempts_verdict verdict, uint64_t now)
{
	switch (verdict) {
	case ATTEMPTS_ALL_FAILED:
		MHD_add_response_header(r, "x-should-retry", "false");
		break;
	case ATTEMPTS_RATE_LIMITED:
		proxy_retry_after(r, x->attempt.earliest_retry_ms, now, 0);
		break;
	case ATTEMPTS_ALL_SKIPPED:
		if (x->attempt.earliest_retry_ms > now)
			proxy_retry_after(r, x->attempt.earliest_retry_ms, now, x->ctx->rt->cfg->server.max_retry_after_ms);
		break;
	case ATTEMPTS_DEADLINE:
		break;
	}
}

static void proxy_give_up(struct exchange *x)
{
	const struct config *cfg = x->ctx->rt->cfg;
	uint64_t now = clock_now_ms();
	enum attempts_verdict verdict = attempts_verdict(&x->attempts, proxy_past_deadline(x, now));
	unsigned status = attempts_status(verdict);
	struct buf body;
	char *json, value[24];
	size_t len;

	exchange_end_as(x, verdict == ATTEMPTS_DEADLINE ? END_DEADLINE : END_ALL_FAILED);
	buf_init(&body, 256 * 1024);
	if (attempts_error_json(&x->attempts, verdict, x->request.model, cfg->server.request_timeout_ms,
				&body) != 0) {
		buf_free(&body);
		exchange_answer_error(x, status, "upstream_error", "all_upstreams_failed", NULL,
				      "all upstreams failed");
		return;
	}
	log_warn("no target answered", LOG_STR("request_id", x->request_id), LOG_STR("model", x->request.model),
		 LOG_UINT("status", status), LOG_UINT("tries", x->attempts.tries), LOG_UINT("skips", x->attempts.skips));
	json = buf_take(&body, &len);
	exchange_answer_json(x, status, json, len);
	if (x->response == NULL)
		return;
	snprintf(value, sizeof value, "%zu", x->attempts.tries);
	MHD_add_response_header(x->response, "x-detour-attempts", value);
	proxy_retry_signals(x, x->response, verdict, now);
}

/* Every target refused the request as the client wrote it: a 400 naming the
 * parameter, with the attempts (each a sentence saying why). */
static void proxy_refuse(struct exchange *x)
{
	struct buf body;
	char *json;
	size_t len;

	exchange_end_as(x, END_REFUSED);
	buf_init(&body, 256 * 1024);
	if (attempts_refusal_json(&x->attempts, attempt_loop_refusal(&x->attempt), attempt_loop_refusal_param(&x->attempt),
				  &body) != 0) {
		buf_free(&body);
		exchange_answer_error(x, 400, "invalid_request_error", NULL, attempt_loop_refusal_param(&x->attempt),
				      attempt_loop_refusal(&x->attempt));
		return;
	}
	json = buf_take(&body, &len);
	exchange_answer_json(x, 400, json, len);
}

/* The current level has no target left: move down the cascade, or give up. */
static void proxy_level_done(struct exchange *x)
{
	const struct runtime *rt = x->ctx->rt;

	x->attempt.level = degrade_next_level(x->attempt.mode, x->attempt.level, rt->cache != NULL, rt->cfg->degradation.offline_message != NULL);
	/* Every target passed over refused the request as the client wrote it and
	 * none was called: the client's mistake is a 400, never a degraded answer. */
	if (x->attempt.unsayable > 0 && x->attempt.unsayable == x->attempts.skips && x->attempts.tries == 0 &&
	    (x->attempt.level == CONFIG_LEVEL_AUTO || !degrade_calls_upstreams(x->attempt.level))) {
		proxy_refuse(x);
		return;
	}
	if (x->attempt.level == CONFIG_LEVEL_AUTO) {
		proxy_give_up(x);
		return;
	}
	proxy_level_begin(x);
}

/*
 * One early probe, when no target is left to call and some were refused by
 * their breaker or a hold: the refused ones by when their upstream could next
 * take a call, earliest first, until one lets a probe through (at most one in
 * flight and one a second per upstream, see breaker_admit_early).
 */
static enum proxy_tried proxy_early(struct exchange *x, uint64_t now)
{
	struct attempt_loop *a = &x->attempt;
	size_t pick[ROUTER_MAX_TARGETS], n = 0, i, j;
	uint64_t at[ROUTER_MAX_TARGETS];

	for (i = 0; i < a->norder; i++) {
		uint64_t when;

		if (!a->refused[i])
			continue;
		when = upstream_next_admission(runtime_upstream(x->ctx->rt, a->targets[a->order[i]].upstream), now);
		if (when == 0)
			continue; /* forced open: no probe goes */
		for (j = n; j > 0 && at[j - 1] > when; j--) {
			pick[j] = pick[j - 1];
			at[j] = at[j - 1];
		}
		pick[j] = i;
		at[j] = when;
		n++;
	}
	for (i = 0; i < n; i++) {
		a->target_tries = 0;
		if (proxy_try(x, &a->targets[a->order[pick[i]]], now, PROXY_EARLY) == PROXY_STARTED)
			return PROXY_STARTED;
	}
	return PROXY_REFUSED;
}

/*
 * Before giving up: each target refused earlier is looked at once more (its
 * breaker may have half-opened or closed meanwhile), then one early probe.
 */
static enum proxy_tried proxy_again(struct exchange *x, uint64_t now)
{
	struct attempt_loop *a = &x->attempt;
	size_t i;

	for (i = 0; i < a->norder; i++) {
		if (!a->refused[i] || a->revisited[i])
			continue;
		a->revisited[i] = true;
		a->target_tries = 0;
		if (proxy_try(x, &a->targets[a->order[i]], now, PROXY_AGAIN) == PROXY_STARTED)
			return PROXY_STARTED;
	}
	if (a->early_done)
		return PROXY_REFUSED;
	a->early_done = true;
	return proxy_early(x, now);
}

static void proxy_refused_fire(struct timer *t)
{
	struct exchange *x = t->arg;

	/* A fresh look: each refused target once more, then an early probe. */
	memset(x->attempt.revisited, 0, sizeof x->attempt.revisited);
	x->attempt.early_done = false;
	proxy_next(x);
}

/*
 * Every target left was refused and no probe went: waits a little for their
 * verdict (see PROXY_REFUSED_WAIT_MS) within the deadline. Returns true when
 * a look again is scheduled; false when the request has waited its time.
 */
static bool proxy_wait_refused(struct exchange *x, uint64_t now)
{
	struct attempt_loop *a = &x->attempt;
	uint64_t at = now + PROXY_REFUSED_LOOK_MS;
	bool any = false;
	size_t i;

	for (i = 0; i < a->norder; i++)
		any = any || a->refused[i];
	if (!any)
		return false;
	if (a->refused_until_ms == 0)
		a->refused_until_ms = now + PROXY_REFUSED_WAIT_MS;
	if (at > a->refused_until_ms)
		at = a->refused_until_ms;
	if (at <= now || at >= x->deadline_ms)
		return false;
	timer_init(&a->wait_timer, proxy_refused_fire, x);
	timers_arm(&x->ctx->timers, &a->wait_timer, at);
	return true;
}

static void proxy_next(struct exchange *x)
{
	uint64_t now = clock_now_ms();

	while (!proxy_past_deadline(x, now)) {
		if (x->attempt.next < x->attempt.norder) {
			size_t at = x->attempt.next++;
			enum proxy_tried tried;

			x->attempt.target_tries = 0;
			tried = proxy_try(x, &x->attempt.targets[x->attempt.order[at]], now, PROXY_FIRST);
			if (tried == PROXY_STARTED)
				return;
			x->attempt.refused[at] = tried == PROXY_REFUSED;
		} else if (proxy_again(x, now) == PROXY_STARTED || proxy_wait_refused(x, now)) {
			return;
		} else {
			break;
		}
		now = clock_now_ms();
	}
	proxy_level_done(x);
}

static void proxy_retry_fire(struct timer *t)
{
	struct exchange *x = t->arg;
	uint64_t now = clock_now_ms();

	if (proxy_past_deadline(x, now) || proxy_try(x, x->attempt.target, now, PROXY_FIRST) != PROXY_STARTED) {
		proxy_release_retry(x);
		proxy_next(x);
	}
}

/*
 * Decides whether a failed call is tried again on the same target, and when.
 * Returns true when a retry is scheduled: the upstream allows more tries, the
 * daemon-wide budget has room, and the wait (backoff, or the upstream's own
 * Retry-After) ends before the request's deadline.
 */
static bool proxy_schedule_retry(struct exchange *x, const struct engine_response *r)
{
	struct context *ctx = x->ctx;
	const struct config_retries *retries = &x->upstream->cfg->retries;
	uint64_t now = clock_now_ms(), delay;

	if (!outcome_retryable(r->error, r->status) || x->attempt.target_tries > retries->attempts)
		return false;
	/* A pause longer than max_delay is not waited out: the next target is
	 * called now, and the upstream's hold keeps it uncalled until then. */
	if (r->retry_after_ms >= 0 && (uint64_t)r->retry_after_ms > retries->max_delay_ms)
		return false;
	if (r->retry_after_ms >= 0)
		delay = (uint64_t)r->retry_after_ms;
	else
		delay = backoff_delay(retries->base_delay_ms, retries->max_delay_ms, x->attempt.target_tries - 1,
				      rng_next(&ctx->rng));
	if (now + delay >= x->deadline_ms)
		return false;
	if (!proxy_hold_retry(x)) {
		metrics_add(&ctx->metrics->retry_refusals, 1);
		log_info("retry budget spent; falling over", LOG_STR("request_id", x->request_id),
			 LOG_STR("upstream", x->upstream->cfg->name));
		return false;
	}
	timer_init(&x->attempt.wait_timer, proxy_retry_fire, x);
	timers_arm(&ctx->timers, &x->attempt.wait_timer, now + delay);
	metrics_upstream_add(ctx->metrics, x->upstream->cfg->index, retries, 1);
	return true;
}

/* The canonical form of the request, computed once, for the cache. NULL when it cannot be. */
static const struct buf *proxy_cache_key(struct exchange *x)
{
	/* A canonical form is never empty ("{}" at least); a failed one leaves it so. */
	if (x->attempt.cache_key.len == 0) {
		x->attempt.cache_key.max = 2 * x->ctx->rt->cfg->server.max_body + 4096;
		if (cache_key_checked(x->request.body, x->request.len, &x->attempt.cache_key) != 0)
			return NULL;
	}
	return &x->attempt.cache_key;
}

/* Keeps a successful chat answer for the cached level (and serve_fresh). */
static void proxy_cache_store(struct exchange *x, const char *answer, size_t len)
{
	struct cache *c = x->ctx->rt->cache;
	const struct buf *key;

	if (c == NULL || !ingress_of(x)->cacheable(x) || answer == NULL || len == 0)
		return;
	key = proxy_cache_key(x);
	if (key != NULL)
		cache_store(c, key->data, key->len, answer, len, x->attempt.level, clock_now_ms());
}

/*
 * Adds the headers every answer carries (x-detour-upstream when upstream is
 * not NULL, x-detour-attempts, x-detour-degraded below full, x-detour-cache on
 * a hit) and notes the level it was given at.
 */
static void proxy_answer_headers(struct exchange *x, struct MHD_Response *r, const char *upstream, bool cache_hit)
{
	char count[24];

	if (upstream != NULL)
		MHD_add_response_header(r, "x-detour-upstream", upstream);
	snprintf(count, sizeof count, "%zu", x->attempts.tries);
	MHD_add_response_header(r, "x-detour-attempts", count);
	if (x->attempt.level != CONFIG_LEVEL_FULL) {
		MHD_add_response_header(r, "x-detour-degraded", config_level_name(x->attempt.level));
		metrics_add(&x->ctx->metrics->degraded[x->attempt.level], 1);
	}
	if (cache_hit)
		MHD_add_response_header(r, "x-detour-cache", "hit");
	x->answer_level = config_level_name(x->attempt.level);
	degrade_note_answer(&x->ctx->rt->degrade, x->attempt.level, clock_now_ms());
}

/*
 * Sends a whole answer (body owned, len bytes): an error as it is, a 2xx in
 * the client's format (the ingress's: for chat, a client that asked to stream
 * from an upstream that did not gets the SSE stream it would have been).
 */
static void proxy_send_whole(struct exchange *x, unsigned status, char *body, size_t len, const char *content_type,
			     const char *upstream, bool cache_hit)
{
	struct MHD_Response *response;

	if (status >= 200 && status < 300)
		ingress_of(x)->whole(x, &body, &len, &content_type);
	response = MHD_create_response_from_buffer_with_free_callback(len, body, free);
	if (response == NULL) {
		free(body);
		exchange_answer(x, 500, NULL);
		return;
	}
	x->bytes_out = len;
	x->answered_by = upstream;
	MHD_add_response_header(response, "Content-Type", content_type);
	if (strcmp(content_type, "text/event-stream") == 0)
		MHD_add_response_header(response, "Cache-Control", "no-cache");
	proxy_answer_headers(x, response, upstream, cache_hit);
	exchange_answer(x, status, response);
}

/* Where proxy_pass_header adds a header. */
struct proxy_passing {
	struct exchange *x;
	struct MHD_Response *r;
};

/* One upstream answer header to the client, without the upstream's key; the
 * request id is noted for the access log too. */
static void proxy_pass_header(void *arg, const char *name, char *value)
{
	struct proxy_passing *p = arg;
	char *id = p->x->upstream_request_id;
	size_t i;

	upstream_redact(p->x->upstream, value);
	MHD_add_response_header(p->r, name, value);
	if (strcmp(name, HEADERPASS_UPSTREAM_REQUEST_ID) != 0)
		return;
	/* The log line is split on spaces: anything but a plain token becomes '_'. */
	for (i = 0; value[i] != '\0' && i + 1 < sizeof p->x->upstream_request_id; i++)
		id[i] = isalnum((unsigned char)value[i]) || strchr("-_.:", value[i]) != NULL ? value[i] : '_';
	id[i] = '\0';
}

/* The answer headers of the upstream that answered (headerpass) on to r. */
static void proxy_pass_headers(struct exchange *x, struct MHD_Response *r, const struct engine_response *from)
{
	struct proxy_passing p = { x, r };

	if (r != NULL && from != NULL)
		headerpass_answer_lines(from->headers.data != NULL ? from->headers.data : "", proxy_pass_header, &p);
}

/* Counts the tokens a whole answer's usage reports, by upstream and the model
 * it was asked for (a scan of the checked body's tail, no tree: this is the
 * pass-through path). */
static void proxy_count_usage(struct exchange *x, const char *body, size_t len)
{
	struct usage usage;

	if (usage_of_answer(body, len, &usage))
		metrics_tokens(x->ctx->metrics, x->upstream->cfg->index, x->asked_model, usage.prompt,
			       usage.completion, usage.cached);
}

/* Sends the upstream's answer (a success, or an error that is the client's),
 * in OpenAI's shape and without the upstream's key. */
static void proxy_answer(struct exchange *x, struct engine_response *r)
{
	size_t len;
	char *body;

	if (r->status < 200 || r->status >= 300)
		proxy_translate_error(x->attempt.dialect, r);
	upstream_redact_bytes(x->upstream, r->body.data, r->body.len);
	if (r->status >= 200 && r->status < 300)
		exchange_end_as(x, x->attempt.level == CONFIG_LEVEL_FULL ? END_ANSWERED : END_DEGRADED);
	else
		exchange_end_as(x, END_PASSED_THROUGH);
	if (r->status >= 200 && r->status < 300) {
		proxy_cache_store(x, r->body.data, r->body.len);
		proxy_count_usage(x, r->body.data, r->body.len);
	}
	body = buf_take(&r->body, &len);
	proxy_send_whole(x, r->status, body, len, r->content_type[0] != '\0' ? r->content_type : "application/json",
			 x->upstream->cfg->name, false);
	proxy_pass_headers(x, x->response, r);
}

/* The cached level: an earlier answer to the same request. Returns true when it answered. */
static bool proxy_serve_cache(struct exchange *x, bool fresh_only)
{
	struct context *ctx = x->ctx;
	const struct buf *key = proxy_cache_key(x);
	struct cache_hit hit;

	if (key == NULL || !cache_lookup(ctx->rt->cache, key->data, key->len, clock_now_ms(), &hit)) {
		metrics_add(&ctx->metrics->cache_misses, 1);
		x->cache = "miss";
		return false;
	}
	if (fresh_only && hit.level != CONFIG_LEVEL_FULL) {
		/* serve_fresh stands in for a full answer, so only a full one will do. */
		cache_hit_free(&hit);
		return false;
	}
	metrics_add(&ctx->metrics->cache_hits, 1);
	x->cache = "hit";
	exchange_end_as(x, END_CACHE_HIT);
	proxy_send_whole(x, 200, hit.answer, hit.answer_len, "application/json", NULL, true);
	return true;
}

/* Redis answered the cached level's fetch: the local cache holds the answer now, or nothing came. */
static void proxy_cache_fetched(void *arg, bool found)
{
	struct exchange *x = arg;

	if (!found || !proxy_serve_cache(x, false))
		proxy_level_done(x);
}

/* A local miss at the cached level asks the second tier; true while x waits for it. */
static bool proxy_fetch_cache(struct exchange *x)
{
	const struct buf *key = proxy_cache_key(x);

	return key != NULL && tierwait_start(&x->tierwait, x->deadline_ms, SHARED_TIER_CACHE, key->data, key->len,
					     proxy_cache_fetched, x);
}

/* The offline level: the configured message, shaped as a chat completion. */
static void proxy_serve_offline(struct exchange *x)
{
	struct buf out;
	char *body;
	size_t len;

	buf_init(&out, 1024 * 1024);
	if (completion_offline(x->ctx->rt->cfg->degradation.offline_message, x->request_id,
			       clock_wall_ms() / 1000, &out) != 0) {
		buf_free(&out);
		proxy_level_done(x);
		return;
	}
	body = buf_take(&out, &len);
	exchange_end_as(x, END_DEGRADED);
	proxy_send_whole(x, 200, body, len, "application/json", NULL, false);
}

/* Starts the current level: its targets, the cache, or the offline message. */
static void proxy_level_begin(struct exchange *x)
{
	struct context *ctx = x->ctx;
	size_t n;

	attempts_set_level(&x->attempts, x->attempt.level == CONFIG_LEVEL_FULL ? NULL : config_level_name(x->attempt.level));
	switch (x->attempt.level) {
	case CONFIG_LEVEL_FULL:
	case CONFIG_LEVEL_REDUCED:
	case CONFIG_LEVEL_MINIMAL:
		/* Past the deadline no upstream is called, but the cache and the offline message can still answer. */
		if (proxy_past_deadline(x, clock_now_ms())) {
			proxy_level_done(x);
			return;
		}
		x->attempt.targets = degrade_targets(x->attempt.route, x->attempt.level, &n);
		x->attempt.norder = router_order(x->attempt.route->strategy, x->attempt.targets, n, rng_next(&ctx->rng), x->attempt.order);
		attempt_loop_level_begin(&x->attempt);
		proxy_next(x);
		return;
	case CONFIG_LEVEL_CACHED:
		if (!proxy_serve_cache(x, false) && !proxy_fetch_cache(x))
			proxy_level_done(x);
		return;
	case CONFIG_LEVEL_OFFLINE:
		proxy_serve_offline(x);
		return;
	default:
		proxy_give_up(x);
		return;
	}
}

/* Puts the translation into r in place of the upstream's body. */
static void proxy_replace_body(struct engine_response *r, struct buf *out)
{
	buf_free(&r->body);
	r->body = *out;
	snprintf(r->content_type, sizeof r->content_type, "application/json");
}

/* A 2xx answer in OpenAI's shape, in place: one the dialect cannot read is
 * the upstream's fault, like malformed JSON. */
static void proxy_translate_answer(const struct dialect *d, struct engine_response *r)
{
	struct buf out;

	buf_init(&out, 2 * r->body.len + 64 * 1024);
	switch (d->answer(r->status, r->body.data, r->body.len, clock_wall_ms() / 1000, &out, r->error_text,
				   sizeof r->error_text)) {
	case DIALECT_MADE:
		proxy_replace_body(r, &out);
		return;
	case DIALECT_BROKEN:
		r->error = ENGINE_PROTOCOL;
		break;
	case DIALECT_SAME:
		break;
	}
	buf_free(&out);
}

/* An error answer in OpenAI's shape, in place (as it came when it cannot be read). */
static void proxy_translate_error(const struct dialect *d, struct engine_response *r)
{
	struct buf out;

	buf_init(&out, 2 * r->body.len + 64 * 1024);
	if (d->error(r->status, r->body.data, r->body.len, &out) == DIALECT_MADE)
		proxy_replace_body(r, &out);
	else
		buf_free(&out);
}

static enum metrics_attempt proxy_metric(enum outcome o)
{
	switch (o) {
	case OUTCOME_SUCCESS: return METRICS_ATTEMPT_SUCCESS;
	case OUTCOME_FALL_OVER: return METRICS_ATTEMPT_FALL_OVER;
	case OUTCOME_PASS_THROUGH: return METRICS_ATTEMPT_PASS_THROUGH;
	case OUTCOME_GIVE_UP: return METRICS_ATTEMPT_GIVE_UP;
	}
	return METRICS_ATTEMPT_GIVE_UP;
}

/* What the breaker hears of a call. */
static enum upstream_verdict proxy_verdict(const struct config_fallback *fb, const struct engine_response *r,
					   enum outcome outcome)
{
	if (outcome == OUTCOME_SUCCESS || outcome == OUTCOME_PASS_THROUGH)
		return UPSTREAM_ANSWERED;
	if (outcome_upstream_fault(fb, r->error, r->status))
		return UPSTREAM_FAULT;
	return UPSTREAM_NO_VERDICT;
}

static void proxy_on_done(void *arg, struct engine_response *r)
{
	struct exchange *x = arg;

	x->transfer = NULL;
	proxy_settle(x, r);
}

/* Counts the continuation under way, if any: ok when it delivered its first delta. */
static void proxy_count_continuation(struct exchange *x, bool ok)
{
	const struct config *cfg = x->ctx->rt->cfg;
	size_t route;

	if (!x->attempt.resuming)
		return;
	x->attempt.resuming = false;
	route = x->attempt.route != NULL ? (size_t)(x->attempt.route - cfg->routes) : cfg->nroutes;
	metrics_continuation(x->ctx->metrics, route, x->attempt.resumed_from, x->upstream->cfg->index, ok);
}

/* A continuation's first delta: like a retry that got its answer, it gives back
 * its unit of the retry budget, which would otherwise cap how many cut streams
 * go on at once by how long they run rather than by how often they break. */
static void proxy_stream_resumed(struct exchange *x)
{
	proxy_count_continuation(x, true);
	proxy_release_retry(x);
}

/*
 * Past the commit point the request is never sent again, unless a cut may be
 * continued (the next call is built from it) or the answer goes to the cache
 * (its key is the request's canonical form, taken now instead). A stream may
 * run for minutes: its request (a whole conversation) and any rewrite of it
 * go back now. Only the chat ingress's request is the exchange's own body.
 * curl is given the body without a copy, so it stays while curl may still
 * read it: an upstream may start its answer before it has read the request.
 */
static void proxy_drop_request(struct exchange *x, const struct engine_response *from)
{
	if (x->ingress != NULL || stream_seam(x) != NULL || !from->request_sent)
		return;
	if (x->ctx->rt->cache != NULL && ingress_of(x)->cacheable(x) && proxy_cache_key(x) == NULL)
		return;
	request_free(&x->request);
	x->request.body = "";
	x->request.len = 0;
	buf_free(&x->body);
	free(x->attempt.upstream_body);
	x->attempt.upstream_body = NULL;
}

/* The stream reached its commit point: its answer goes out with the loop's headers. */
static void proxy_stream_commit(struct exchange *x, struct MHD_Response *r, const struct engine_response *from)
{
	/* A probe's slot is freed by the first content, not held for the whole stream. */
	if (x->attempt.probe) {
		upstream_probe_answered(x->upstream, clock_now_ms());
		x->attempt.probe = false;
	}
	exchange_end_as(x, x->attempt.level == CONFIG_LEVEL_FULL ? END_ANSWERED : END_DEGRADED);
	proxy_answer_headers(x, r, x->upstream->cfg->name, false);
	proxy_pass_headers(x, r, from);
	metrics_add(&x->ctx->metrics->streams_opened, 1);
	x->streamed = true;
	proxy_drop_request(x, from);
}

/* Records how a committed stream's call ended; fault: it broke off. */
static void proxy_stream_ended(struct exchange *x, const struct engine_response *r, bool fault, const char *words)
{
	struct context *ctx = x->ctx;
	struct upstream *u = x->upstream;
	uint64_t ms = r->ended_ms - r->started_ms;

	DETOUR_ASSERT(stream_committed(x));
	proxy_count_continuation(x, false);
	if (fault)
		exchange_end_as(x, END_STREAM_CUT);
	else if (x->attempt.continuations > 0)
		exchange_end_as(x, END_CONTINUED);
	upstream_record(u, r->ended_ms, fault ? UPSTREAM_FAULT : UPSTREAM_ANSWERED, x->attempt.probe, !fault,
			r->status, -1, words);
	x->attempt.probe = false;
	if (!fault && ctx->rt->cache != NULL &&
	    (x->attempt.continuations == 0 || config_route_streams(ctx->rt->cfg, x->attempt.route).cache_continued)) {
		struct buf whole;

		buf_init(&whole, ctx->rt->cfg->server.max_response);
		if (stream_whole_answer(x, &whole) == 0)
			proxy_cache_store(x, whole.data, whole.len);
		buf_free(&whole);
	}
	proxy_release_retry(x);
	metrics_attempt(ctx->metrics, u->cfg->index, fault ? METRICS_ATTEMPT_GIVE_UP : METRICS_ATTEMPT_SUCCESS);
	metrics_attempt_time(ctx->metrics, u->cfg->index, ms,
			     r->first_byte_ms != 0 ? (int64_t)(r->first_byte_ms - r->started_ms) : -1);
	if (fault) {
		metrics_add(&ctx->metrics->stream_cuts, 1);
		log_warn("stream broke off after the commit point", LOG_STR("request_id", x->request_id),
			 LOG_STR("upstream", u->cfg->name), LOG_STR("error", words != NULL ? words : ""), LOG_UINT("ms", ms));
	}
}

/* The request's n (1 when absent): more than one choice is not continued. */
static unsigned proxy_choices(struct exchange *x)
{
	json_t *n = json_object_get(request_json(&x->request), "n");

	return json_is_integer(n) && json_integer_value(n) > 1 ? (unsigned)json_integer_value(n) : 1;
}

/* May the cut stream go on? The policy's verdict on what the seam saw. */
static enum continuation_verdict proxy_may_continue(struct exchange *x, const struct seam *seam, uint64_t now)
{
	struct continuation_case c = {
		.streams = config_route_streams(x->ctx->rt->cfg, x->attempt.route),
		.used = x->attempt.continuations,
		.in_tool_call = seam->in_tool_call,
		.text_whole = !seam->text_lost,
		.choices = proxy_choices(x),
		.chat_chunks = !x->attempt.native_client,
		.now_ms = now,
		.deadline_ms = x->deadline_ms,
	};

	return continuation_decide(&c);
}

/*
 * The delivered text for the next target's prefill: a copy (*len bytes,
 * NUL-terminated) without any upstream's key. The seam keeps the upstreams'
 * words as they came, before the redaction the client's copy gets, and one
 * upstream's key must never reach another. NULL when out of memory.
 */
static char *proxy_partial_for_next(struct exchange *x, const struct seam *seam, size_t *len)
{
	const struct runtime *rt = x->ctx->rt;
	const char *text = seam_text(seam, len);
	char *copy = malloc(*len + 1);

	if (copy == NULL)
		return NULL;
	memcpy(copy, text, *len);
	copy[*len] = '\0';
	for (size_t i = 0; i < rt->cfg->nupstreams; i++)
		upstream_redact_bytes(&rt->upstreams[i], copy, *len);
	return copy;
}

/* Starts the next target of the level that takes the call, as a continuation. */
static bool proxy_continue_next(struct exchange *x, uint64_t now)
{
	while (!proxy_past_deadline(x, now) && x->attempt.next < x->attempt.norder) {
		size_t at = x->attempt.next++;
		enum proxy_tried tried;

		x->attempt.target_tries = 0;
		tried = proxy_try(x, &x->attempt.targets[x->attempt.order[at]], now, PROXY_FIRST);
		if (tried == PROXY_STARTED)
			return true;
		x->attempt.refused[at] = tried == PROXY_REFUSED;
		now = clock_now_ms();
	}
	return false;
}

/*
 * A committed stream broke off: it goes on from the next target the route
 * allows when the policy says it may, the retry budget has room and a target
 * takes the call. The continuation holds one unit of the budget, as a retry
 * does, until its first delta (proxy_stream_resumed) or its end. The upstream that broke off is counted as failed either way
 * (through proxy_stream_ended when the stream ends here).
 */
static bool proxy_stream_cut(struct exchange *x, const struct engine_response *r, const char *words)
{
	struct context *ctx = x->ctx;
	struct upstream *u = x->upstream;
	const struct seam *seam = stream_seam(x);
	uint64_t now = clock_now_ms(), ms = r->ended_ms - r->started_ms;
	enum continuation_verdict verdict;
	const char *from = u->cfg->name;

	proxy_count_continuation(x, false);
	/* A continuation that broke off before it said anything does not use one up. */
	if (x->attempt.continuations > 0 && seam != NULL && !seam->shown)
		x->attempt.continuations--;
	verdict = seam != NULL ? proxy_may_continue(x, seam, now) : CONTINUATION_OFF;
	if (verdict != CONTINUATION_GO) {
		log_info("stream not continued", LOG_STR("request_id", x->request_id), LOG_STR("upstream", from),
			 LOG_STR("why", continuation_verdict_name(verdict)));
		return false;
	}
	if (!proxy_hold_retry(x)) {
		metrics_add(&ctx->metrics->retry_refusals, 1);
		return false;
	}
	bool probe = x->attempt.probe;
	bool started;
	char *partial;

	x->attempt.probe = false;
	x->attempt.continuing = true;
	/* The seam's text may move as the continuation adds to it: a copy, held only while the call is built. */
	partial = proxy_partial_for_next(x, seam, &x->attempt.partial_len);
	x->attempt.partial = partial;
	started = partial != NULL && proxy_continue_next(x, now);
	x->attempt.continuing = false;
	x->attempt.partial = NULL;
	free(partial);
	if (started) {
		upstream_record(u, r->ended_ms, UPSTREAM_FAULT, probe, false, r->status, -1, words);
		attempts_add_failure(&x->attempts, from, r->error == ENGINE_OK ? r->status : 0, words, ms);
		metrics_attempt(ctx->metrics, u->cfg->index, METRICS_ATTEMPT_FALL_OVER);
		metrics_attempt_time(ctx->metrics, u->cfg->index, ms,
				     r->first_byte_ms != 0 ? (int64_t)(r->first_byte_ms - r->started_ms) : -1);
		metrics_add(&ctx->metrics->stream_cuts, 1);
		x->attempt.continuations++;
		x->attempt.resuming = true;
		x->attempt.resumed_from = u->cfg->index;
		/* The access line names who finished the stream; X-Detour-Upstream went out
		 * with the headers at the commit point and keeps naming who began it. */
		x->answered_by = x->upstream->cfg->name;
		log_warn("stream broke off after the commit point; continuing", LOG_STR("request_id", x->request_id),
			 LOG_STR("upstream", from), LOG_STR("to", x->upstream->cfg->name), LOG_STR("error", words),
			 LOG_UINT("ms", ms));
		return true;
	}
	/* proxy_stream_ended counts the upstream that broke off, as for any cut. */
	x->upstream = u;
	x->attempt.probe = probe;
	log_info("stream not continued", LOG_STR("request_id", x->request_id), LOG_STR("upstream", from),
		 LOG_STR("why", "no target left"));
	return false;
}

/* Settles an attempt whose call ended before anything went to the client:
 * sends its answer, retries it, falls over, or gives up. */
static void proxy_settle(struct exchange *x, struct engine_response *r)
{
	struct context *ctx = x->ctx;
	const struct config_fallback *fb = &ctx->rt->cfg->fallback_on;
	struct upstream *u = x->upstream;
	uint64_t ms = r->ended_ms - r->started_ms;
	int64_t pause = -1;
	char words[200];
	enum outcome outcome;
	unsigned status;

	DETOUR_ASSERT(x->transfer == NULL && !stream_committed(x));
	proxy_release_retry(x);
	/* A 2xx the dialect cannot read (not JSON, not its answer) is a broken upstream, not an answer. */
	if (r->error == ENGINE_OK && r->status >= 200 && r->status < 300)
		proxy_translate_answer(x->attempt.dialect, r);
	status = r->error == ENGINE_OK ? r->status : 0;
	outcome = outcome_classify(fb, r->error, r->status);
	/* The words serve failures only: an answer passed through is not described. */
	if (outcome == OUTCOME_SUCCESS || outcome == OUTCOME_PASS_THROUGH)
		words[0] = '\0';
	else if (r->error == ENGINE_OK)
		upstream_describe_status(u, r->status, r->body.data, r->body.len, words, sizeof words);
	else
		snprintf(words, sizeof words, "%s", r->error_text);
	upstream_redact(u, words);
	if (status == 429 || status == 503)
		pause = r->retry_after_ms;
	else
		r->retry_after_ms = -1;
	upstream_record(u, r->ended_ms, proxy_verdict(fb, r, outcome), x->attempt.probe, outcome == OUTCOME_SUCCESS,
			status, pause, words);
	x->attempt.probe = false;
	if (status == 429)
		proxy_note_rate_limit(x, u, r->ended_ms);
	metrics_attempt(ctx->metrics, u->cfg->index, proxy_metric(outcome));
	metrics_attempt_time(ctx->metrics, u->cfg->index, ms,
			     r->first_byte_ms != 0 ? (int64_t)(r->first_byte_ms - r->started_ms) : -1);

	if (outcome == OUTCOME_SUCCESS || outcome == OUTCOME_PASS_THROUGH) {
		attempts_add_answer(&x->attempts, u->cfg->name, r->status, ms);
		proxy_answer(x, r);
		return;
	}
	attempts_add_failure(&x->attempts, u->cfg->name, status, words, ms);
	if (outcome == OUTCOME_GIVE_UP) {
		log_info("giving up", LOG_STR("request_id", x->request_id), LOG_STR("upstream", u->cfg->name),
			 LOG_UINT("status", status), LOG_STR("error", words), LOG_UINT("ms", ms));
		proxy_give_up(x);
		return;
	}
	if (proxy_schedule_retry(x, r)) {
		log_info("retrying", LOG_STR("request_id", x->request_id), LOG_STR("upstream", u->cfg->name),
			 LOG_UINT("status", status), LOG_STR("error", words), LOG_UINT("ms", ms),
			 LOG_UINT("retry_in_ms", x->attempt.wait_timer.at_ms - clock_now_ms()));
		return;
	}
	log_info("falling over", LOG_STR("request_id", x->request_id), LOG_STR("upstream", u->cfg->name),
		 LOG_UINT("status", status), LOG_STR("error", words), LOG_UINT("ms", ms));
	proxy_next(x);
}

/* serve_fresh applies to requests whose answer should not vary: temperature 0. */
static bool proxy_deterministic(const struct exchange *x)
{
	return x->request.has_temperature && x->request.temperature == 0.0;
}

void proxy_start(struct exchange *x)
{
	struct context *ctx = x->ctx;
	const struct config *cfg = ctx->rt->cfg;
	const struct config_route *route = router_find(cfg, x->request.model);
	char message[320];

	x->producer = &proxy_producer;
	if (route == NULL) {
		snprintf(message, sizeof message,
			 "The model `%.200s` does not exist or you do not have access to it.", x->request.model);
		exchange_answer_error(x, 404, "invalid_request_error", "model_not_found", "model", message);
		return;
	}
	atomic_fetch_add(&ctx->rt->requests_active, 1);
	x->attempt.counted_active = true;
	x->attempt.route = route;
	x->attempt.mode = degrade_mode(&ctx->rt->degrade);
	if (x->request.kind != REQUEST_CHAT) {
		/* Degraded answers are chat completions; other endpoints only ever go to the upstreams. */
		if (!degrade_calls_upstreams(degrade_first_level(x->attempt.mode))) {
			exchange_end_as(x, END_REFUSED);
			exchange_answer_error(x, 503, "upstream_error", "no_upstream_available", NULL,
					      "Upstream calls are paused: the operator pinned the degradation level.");
			return;
		}
		x->attempt.mode = CONFIG_LEVEL_FULL;
	}
	x->attempt.level = degrade_first_level(x->attempt.mode);
	if (cfg->degradation.cache.serve_fresh && ctx->rt->cache != NULL && x->attempt.level == CONFIG_LEVEL_FULL &&
	    x->request.kind == REQUEST_CHAT && proxy_deterministic(x)) {
		if (proxy_serve_cache(x, true))
			return;
	}
	proxy_level_begin(x);
}

/* Stops whatever x still has under way (a call, a backoff wait) and gives back
 * what it holds (a breaker probe, the retry budget). Safe to call twice. */
static void proxy_stop(struct exchange *x)
{
	struct context *ctx = x->ctx;

	/* A continuation cut short by the client or a shutdown before its first delta failed. */
	if (x->upstream != NULL)
		proxy_count_continuation(x, false);
	if (x->transfer != NULL) {
		/* A stream whose [DONE] came is whole, even when its client leaves before the call ends. */
		bool whole = stream_end_if_whole(x);

		ctx->engine_ops->cancel(x->transfer);
		x->transfer = NULL;
		if (!whole)
			upstream_record(x->upstream, clock_now_ms(), UPSTREAM_NO_VERDICT, x->attempt.probe, false, 0, -1,
					NULL);
		x->attempt.probe = false;
	}
	timers_disarm(&ctx->timers, &x->attempt.wait_timer);
	tierwait_cancel(&x->tierwait);
	proxy_release_retry(x);
	if (x->attempt.counted_active) {
		atomic_fetch_sub(&ctx->rt->requests_active, 1);
		x->attempt.counted_active = false;
	}
}

static void proxy_release(struct exchange *x)
{
	stream_release(x);
	ingress_release(x);
}

static bool proxy_committed(const struct exchange *x)
{
	return stream_committed(x);
}

static void proxy_client_gone(struct exchange *x)
{
	stream_client_gone(x);
}

static void proxy_cut(struct exchange *x, const char *code, const char *message)
{
	stream_end_with_error(x, code, message);
}

/* The attempt loop as the exchange's producer: what the exchange may ask of it. */
static const struct exchange_producer proxy_producer = {
	.stop = proxy_stop,
	.release = proxy_release,
	.committed = proxy_committed,
	.client_gone = proxy_client_gone,
	.cut = proxy_cut,
};

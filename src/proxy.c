/* proxy.c — the attempt loop: one exchange tried on the targets of its route, in order, until one answers. */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "clock.h"
#include "engine.h"
#include "exchange.h"
#include "jsonscan.h"
#include "log.h"
#include "outcome.h"
#include "router.h"
#include "upstream.h"
#include "worker.h"

/* curl's timeouts cannot be 0 (that means none). */
#define PROXY_MIN_TIMEOUT_MS 1

static void proxy_on_done(void *arg, struct engine_response *r);

static const struct engine_handlers proxy_handlers = {
	.on_headers = NULL,
	.on_data = NULL,
	.on_done = proxy_on_done,
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

/* Which targets a request kind can go to. */
static const char *proxy_unsupported(const struct exchange *x, const struct config_upstream *u)
{
	if (u->provider == CONFIG_PROVIDER_ANTHROPIC)
		return "provider anthropic cannot serve this endpoint yet";
	(void)x;
	return NULL;
}

/* Starts a call to target. Returns 0 when it is under way, -1 when the
 * target was passed over (recorded in the attempts). */
static int proxy_try(struct exchange *x, const struct config_target *target, uint64_t now)
{
	struct worker *w = x->worker;
	const struct config *cfg = w->rt->cfg;
	const struct config_upstream *ucfg = target->upstream;
	struct upstream *u = runtime_upstream(w->rt, ucfg);
	struct request_changes changes = { target->model, target->max_tokens, 0 };
	struct engine_request req;
	const char *why = proxy_unsupported(x, ucfg);
	uint64_t remaining = x->deadline_ms - now;

	if (why != NULL) {
		attempts_add_skip(&x->attempts, ucfg->name, why);
		metrics_attempt(&w->metrics, ucfg->index, METRICS_ATTEMPT_SKIPPED);
		return -1;
	}
	free(x->upstream_body);
	x->upstream_body = NULL;
	memset(&req, 0, sizeof req);
	req.body = x->body.data;
	req.body_len = x->body.len;
	if (!request_unchanged(&x->request, &changes)) {
		x->upstream_body = request_rewrite(&x->request, &changes, &req.body_len);
		if (x->upstream_body == NULL) {
			attempts_add_failure(&x->attempts, ucfg->name, 0, "out of memory in detour", 0);
			return -1;
		}
		req.body = x->upstream_body;
	}
	req.url = upstream_url(u, x->request.kind);
	req.headers = u->headers;
	req.connect_timeout_ms = proxy_min(ucfg->timeouts.connect_ms, remaining);
	req.first_byte_timeout_ms = proxy_min(ucfg->timeouts.first_byte_ms, remaining);
	req.idle_timeout_ms = ucfg->timeouts.idle_ms;
	req.total_timeout_ms = proxy_min(ucfg->timeouts.total_ms, remaining);
	req.max_response = cfg->server.max_response;
	x->transfer = engine_submit(w->engine, &req, &proxy_handlers, x);
	if (x->transfer == NULL) {
		attempts_add_failure(&x->attempts, ucfg->name, 0, "detour could not start the call", 0);
		return -1;
	}
	x->target = target;
	x->upstream = u;
	return 0;
}

static void proxy_give_up(struct exchange *x)
{
	const struct config *cfg = x->worker->rt->cfg;
	enum attempts_verdict verdict = ATTEMPTS_ALL_FAILED;
	struct buf body;
	char *json, count[24];
	size_t len;
	unsigned status;

	if (proxy_past_deadline(x, clock_now_ms()))
		verdict = ATTEMPTS_DEADLINE;
	else if (x->attempts.tries == 0 && x->attempts.skips > 0)
		verdict = ATTEMPTS_ALL_SKIPPED;
	status = attempts_status(verdict);
	buf_init(&body, 256 * 1024);
	if (attempts_error_json(&x->attempts, verdict, x->request.model, cfg->server.request_timeout_ms,
				&body) != 0) {
		buf_free(&body);
		exchange_answer_error(x, status, "upstream_error", "all_upstreams_failed", NULL,
				      "all upstreams failed");
		return;
	}
	log_warn("request_id=%s model=%s status=%u tries=%zu skips=%zu all targets failed", x->request_id,
		 x->request.model, status, x->attempts.tries, x->attempts.skips);
	json = buf_take(&body, &len);
	exchange_answer_json(x, status, json, len);
	if (x->response != NULL) {
		snprintf(count, sizeof count, "%zu", x->attempts.tries);
		MHD_add_response_header(x->response, "x-detour-attempts", count);
	}
}

static void proxy_next(struct exchange *x)
{
	uint64_t now = clock_now_ms();

	while (x->next < x->norder && !proxy_past_deadline(x, now)) {
		const struct config_target *target = &x->route->targets[x->order[x->next++]];

		if (proxy_try(x, target, now) == 0)
			return;
		now = clock_now_ms();
	}
	proxy_give_up(x);
}

/* Sends the upstream's answer (a success, or an error that is the client's). */
static void proxy_answer(struct exchange *x, struct engine_response *r)
{
	struct MHD_Response *response;
	char count[24];
	size_t len;
	char *body = buf_take(&r->body, &len);

	response = MHD_create_response_from_buffer_with_free_callback(len, body, free);
	if (response == NULL) {
		free(body);
		exchange_answer(x, 500, NULL);
		return;
	}
	MHD_add_response_header(response, "Content-Type",
				r->content_type[0] != '\0' ? r->content_type : "application/json");
	MHD_add_response_header(response, "x-detour-upstream", x->upstream->cfg->name);
	snprintf(count, sizeof count, "%zu", x->attempts.tries);
	MHD_add_response_header(response, "x-detour-attempts", count);
	exchange_answer(x, r->status, response);
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

static void proxy_on_done(void *arg, struct engine_response *r)
{
	struct exchange *x = arg;
	struct worker *w = x->worker;
	const struct config_fallback *fb = &w->rt->cfg->fallback_on;
	struct upstream *u = x->upstream;
	uint64_t ms = r->ended_ms - r->started_ms;
	char words[160];
	enum outcome outcome;
	bool fault;

	x->transfer = NULL;
	/* A 2xx that is not JSON is a broken upstream, not an answer. */
	if (r->error == ENGINE_OK && r->status >= 200 && r->status < 300 && !x->request.stream &&
	    !jsonscan_valid_object(r->body.data, r->body.len)) {
		r->error = ENGINE_PROTOCOL;
		snprintf(r->error_text, sizeof r->error_text, "malformed JSON in a %u answer", r->status);
	}
	outcome = outcome_classify(fb, r->error, r->status);
	fault = outcome_upstream_fault(fb, r->error, r->status);
	if (r->error == ENGINE_OK && outcome != OUTCOME_SUCCESS)
		upstream_describe_status(u, r->status, r->body.data, r->body.len, words, sizeof words);
	else
		snprintf(words, sizeof words, "%s", r->error_text);
	upstream_record(u, outcome == OUTCOME_SUCCESS, fault, r->error == ENGINE_OK ? r->status : 0, words);
	metrics_attempt(&w->metrics, u->cfg->index, proxy_metric(outcome));

	switch (outcome) {
	case OUTCOME_SUCCESS:
	case OUTCOME_PASS_THROUGH:
		attempts_add_answer(&x->attempts, u->cfg->name, r->status, ms);
		proxy_answer(x, r);
		return;
	case OUTCOME_FALL_OVER:
	case OUTCOME_GIVE_UP:
		attempts_add_failure(&x->attempts, u->cfg->name, r->error == ENGINE_OK ? r->status : 0,
				     words, ms);
		log_info("request_id=%s upstream=%s status=%u error=\"%s\" ms=%llu %s", x->request_id,
			 u->cfg->name, r->error == ENGINE_OK ? r->status : 0, words,
			 (unsigned long long)ms, outcome == OUTCOME_FALL_OVER ? "falling over" : "giving up");
		if (outcome == OUTCOME_FALL_OVER)
			proxy_next(x);
		else
			proxy_give_up(x);
		return;
	}
}

void proxy_start(struct exchange *x)
{
	struct worker *w = x->worker;
	const struct config_route *route = router_find(w->rt->cfg, x->request.model);
	char message[320];

	if (route == NULL) {
		snprintf(message, sizeof message,
			 "The model `%.200s` does not exist or you do not have access to it.", x->request.model);
		exchange_answer_error(x, 404, "invalid_request_error", "model_not_found", "model", message);
		return;
	}
	x->route = route;
	x->norder = router_order(route->strategy, route->targets, route->ntargets, rng_next(&w->rng), x->order);
	x->next = 0;
	proxy_next(x);
}

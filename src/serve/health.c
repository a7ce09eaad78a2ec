/* health.c — active health checks: GET {base_url}/models on each upstream (while its breaker is not closed, unless asked always), from one worker's loop. */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "context.h"
#include "engine.h"
#include "log.h"
#include "upstream.h"
#include "runtime.h"

/* A models list is small; anything larger is not a healthy answer. */
#define HEALTH_MAX_ANSWER (1024 * 1024)

struct health_probe {
	struct health *health;
	struct upstream *upstream;
	struct timer timer;
	struct engine_transfer *transfer;
};

struct health {
	struct context *ctx;
	struct health_probe *probes;
	size_t nprobes;
};

static void health_on_done(void *arg, struct engine_response *r);

static const struct engine_handlers health_handlers = {
	.on_headers = NULL,
	.on_data = NULL,
	.on_done = health_on_done,
};

/* Arms p's next check one interval from now. */
static void health_again(struct health_probe *p)
{
	timers_arm(&p->health->ctx->timers, &p->timer, clock_now_ms() + upstream_health_interval(p->upstream));
}

static void health_fire(struct timer *t)
{
	struct health_probe *p = t->arg;
	struct context *ctx = p->health->ctx;
	const struct config_upstream *cfg = p->upstream->cfg;
	struct engine_request req = {
		.url = p->upstream->url_models,
		.headers = p->upstream->probe_headers,
		.body = NULL,
		.connect_timeout_ms = cfg->timeouts.connect_ms < cfg->health_check.timeout_ms
				      ? cfg->timeouts.connect_ms : cfg->health_check.timeout_ms,
		.first_byte_timeout_ms = cfg->health_check.timeout_ms,
		.idle_timeout_ms = cfg->health_check.timeout_ms,
		.total_timeout_ms = cfg->health_check.timeout_ms,
		.max_response = HEALTH_MAX_ANSWER,
	};

	/* By default a closed breaker needs no check: traffic tells how the upstream is. */
	if (!upstream_health_always(p->upstream) && !upstream_needs_health(p->upstream, clock_now_ms())) {
		health_again(p);
		return;
	}
	p->transfer = ctx->engine_ops->submit(ctx->engine, &req, &health_handlers, p);
	if (p->transfer == NULL) {
		log_warn("health check could not start", LOG_STR("upstream", cfg->name),
			 LOG_UINT("next_in_ms", upstream_health_interval(p->upstream)));
		health_again(p);
	}
}

static void health_on_done(void *arg, struct engine_response *r)
{
	struct health_probe *p = arg;
	const struct config_upstream *cfg = p->upstream->cfg;
	char words[200];
	bool ok = r->error == ENGINE_OK && r->status >= 200 && r->status < 300;

	p->transfer = NULL;
	if (ok)
		words[0] = '\0';
	else if (r->error == ENGINE_OK)
		upstream_describe_status(p->upstream, r->status, r->body.data, r->body.len, words, sizeof words);
	else
		snprintf(words, sizeof words, "%s", r->error_text);
	if (!ok)
		log_info("health check failed", LOG_STR("upstream", cfg->name), LOG_STR("error", words));
	upstream_health(p->upstream, r->ended_ms, ok, r->error == ENGINE_OK ? r->status : 0, words);
	metrics_upstream_add(p->health->ctx->metrics, cfg->index, health[ok ? 0 : 1], 1);
	health_again(p);
}

struct health *health_start(struct context *ctx)
{
	const struct config *cfg = ctx->rt->cfg;
	struct health *h = NULL;
	size_t i, n = 0;

	for (i = 0; i < cfg->nupstreams; i++)
		n += !cfg->upstreams[i].health_check.off;
	if (n == 0)
		return NULL;
	h = calloc(1, sizeof *h);
	if (h == NULL || (h->probes = calloc(n, sizeof *h->probes)) == NULL) {
		log_error("out of memory: health checks are off");
		free(h);
		return NULL;
	}
	h->ctx = ctx;
	for (i = 0; i < cfg->nupstreams; i++) {
		struct health_probe *p;

		if (cfg->upstreams[i].health_check.off)
			continue;
		p = &h->probes[h->nprobes++];
		p->health = h;
		p->upstream = &ctx->rt->upstreams[i];
		timer_init(&p->timer, health_fire, p);
		timers_arm(&ctx->timers, &p->timer, clock_now_ms());
	}
	return h;
}

void health_stop(struct health *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nprobes; i++) {
		struct health_probe *p = &h->probes[i];

		timers_disarm(&h->ctx->timers, &p->timer);
		if (p->transfer != NULL)
			h->ctx->engine_ops->cancel(p->transfer);
	}
	free(h->probes);
	free(h);
}

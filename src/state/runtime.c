/* runtime.c — what every worker shares: the configuration and the upstreams built from it. */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

static void runtime_free_counters(struct runtime *rt)
{
	size_t i;

	for (i = 0; i < rt->ncounters; i++)
		metrics_free(&rt->counters[i]);
	free(rt->counters);
	rt->counters = NULL;
	rt->ncounters = 0;
	metrics_free(&rt->handed_over);
}

int runtime_init(struct runtime *rt, const struct config *cfg, char *err, size_t errlen)
{
	size_t i;

	memset(rt, 0, sizeof *rt);
	rt->cfg = cfg;
	rt->started_wall_ms = clock_wall_ms();
	degrade_init(&rt->degrade, cfg->degradation.mode);
	if (metrics_init(&rt->handed_over, cfg->nupstreams, cfg->nroutes) != 0 ||
	    (rt->counters = calloc(cfg->server.workers + 1, sizeof *rt->counters)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (; rt->ncounters < cfg->server.workers + 1; rt->ncounters++) {
		if (metrics_init(&rt->counters[rt->ncounters], cfg->nupstreams, cfg->nroutes) != 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (cfg->degradation.cache.entries > 0) {
		rt->cache = cache_create(cfg->degradation.cache.entries, cfg->degradation.cache.max_bytes,
					 cfg->degradation.cache.ttl_ms);
		if (rt->cache == NULL) {
			snprintf(err, errlen, "out of memory for the cache");
			goto fail;
		}
		rt->owns_cache = true;
	}
	rt->store = convstore_create(cfg->responses.store.entries, cfg->responses.store.max_bytes,
				     cfg->responses.store.ttl_ms);
	if (rt->store == NULL) {
		snprintf(err, errlen, "out of memory for the responses store");
		goto fail;
	}
	rt->owns_store = true;
	rt->upstreams = calloc(cfg->nupstreams, sizeof *rt->upstreams);
	if (rt->upstreams == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < cfg->nupstreams; i++) {
		if (upstream_init(&rt->upstreams[i], &cfg->upstreams[i], err, errlen) != 0) {
			while (i-- > 0)
				upstream_free(&rt->upstreams[i]);
			goto fail;
		}
	}
	return 0;
fail:
	free(rt->upstreams);
	rt->upstreams = NULL;
	cache_free(rt->cache);
	rt->cache = NULL;
	convstore_free(rt->store);
	rt->store = NULL;
	runtime_free_counters(rt);
	return -1;
}

void runtime_free(struct runtime *rt)
{
	size_t i;

	/* First: its thread applies what others tell to these upstreams. */
	if (rt->owns_shared)
		shared_stop(rt->shared);
	rt->shared = NULL;
	if (rt->upstreams != NULL)
		for (i = 0; i < rt->cfg->nupstreams; i++)
			upstream_free(&rt->upstreams[i]);
	free(rt->upstreams);
	if (rt->owns_cache)
		cache_free(rt->cache);
	if (rt->owns_store)
		convstore_free(rt->store);
	runtime_free_counters(rt);
	memset(rt, 0, sizeof *rt);
}

/* The cache's limits in both files are the same. */
static bool runtime_same_cache(const struct config *a, const struct config *b)
{
	return a->degradation.cache.entries == b->degradation.cache.entries &&
	       a->degradation.cache.max_bytes == b->degradation.cache.max_bytes &&
	       a->degradation.cache.ttl_ms == b->degradation.cache.ttl_ms;
}

/* Says which pinned level a reload dropped (the words operators grep for). */
static void runtime_log_pin_dropped(enum config_level pinned)
{
	char said[160];

	snprintf(said, sizeof said, "reload: the degradation level pinned by an operator (%s) is dropped",
		 config_level_name(pinned));
	log_warn(said, LOG_STR("level_pinned", config_level_name(pinned)));
}

void runtime_carry(struct runtime *rt, struct runtime *old)
{
	const struct config_upstream *before;
	enum config_level pinned;
	size_t i;

	rt->started_wall_ms = old->started_wall_ms;
	for (i = 0; i < rt->cfg->nupstreams; i++) {
		before = config_find_upstream(old->cfg, rt->cfg->upstreams[i].name);
		if (before != NULL)
			upstream_carry(&rt->upstreams[i], runtime_upstream(old, before));
	}
	/* A pin set over /admin/degradation outlives the reload, unless a new
	 * mode in the file replaces it or the new file cannot serve it. */
	pinned = degrade_mode(&old->degrade);
	if (rt->cfg->degradation.mode == old->cfg->degradation.mode && config_level_servable(rt->cfg, pinned))
		degrade_set_mode(&rt->degrade, pinned);
	else if (pinned != old->cfg->degradation.mode)
		runtime_log_pin_dropped(pinned);
	atomic_store(&rt->degrade.last_degraded_ms, atomic_load(&old->degrade.last_degraded_ms));
	atomic_store(&rt->degrade.last_level, atomic_load(&old->degrade.last_level));
	/* The cached answers stay good: the old workers go on using the cache
	 * while they drain, and the new runtime frees it. */
	if (old->cache != NULL && old->owns_cache &&
	    runtime_same_cache(rt->cfg, old->cfg)) {
		cache_free(rt->cache);
		rt->cache = old->cache;
		old->owns_cache = false;
	}
	/* Conversations go on across a reload, as the cache does. */
	if (old->owns_store && rt->cfg->responses.store.entries == old->cfg->responses.store.entries &&
	    rt->cfg->responses.store.max_bytes == old->cfg->responses.store.max_bytes &&
	    rt->cfg->responses.store.ttl_ms == old->cfg->responses.store.ttl_ms) {
		convstore_free(rt->store);
		rt->store = old->store;
		old->owns_store = false;
	}
}

int runtime_share(struct runtime *rt, struct runtime *old, char *err, size_t errlen)
{
	if (rt->cfg->shared.redis == NULL) {
		cache_set_observer(rt->cache, NULL, NULL);
		convstore_set_observer(rt->store, NULL, NULL);
		return 0;
	}
	if (old != NULL && old->owns_shared && shared_same(old->shared, rt->cfg)) {
		rt->shared = old->shared;
		old->owns_shared = false;
	} else {
		rt->shared = shared_start(rt->cfg, err, errlen);
		if (rt->shared == NULL)
			return -1;
	}
	rt->owns_shared = true;
	shared_bind(rt->shared, rt->cfg, rt->upstreams, rt->cfg->nupstreams, &rt->degrade, rt->cache, rt->store);
	return 0;
}

void runtime_unshare(struct runtime *rt, struct runtime *old)
{
	if (old == NULL || rt->shared == NULL || rt->shared != old->shared || !rt->owns_shared)
		return;
	shared_bind(old->shared, old->cfg, old->upstreams, old->cfg->nupstreams, &old->degrade, old->cache,
		    old->store);
	old->owns_shared = true;
	rt->owns_shared = false;
	rt->shared = NULL;
}

/* What a scrape of rt reads. */
static void runtime_scrape(const struct runtime *rt, struct metrics_scrape *sc)
{
	sc->cfg = rt->cfg;
	sc->sets = rt->counters;
	sc->nsets = rt->ncounters;
	sc->upstreams = rt->upstreams;
	sc->cache = rt->cache;
	sc->in_flight = atomic_load(&rt->requests_active);
}

void runtime_carry_metrics(struct runtime *rt, struct runtime *old)
{
	struct metrics_scrape before;

	runtime_scrape(old, &before);
	/* The last set holds what earlier runtimes counted. */
	metrics_carry(&rt->counters[rt->ncounters - 1], rt->cfg, &before, &old->handed_over);
}

int runtime_render_metrics(const struct runtime *rt, struct buf *out)
{
	struct metrics_scrape sc;

	runtime_scrape(rt, &sc);
	if (metrics_render(&sc, out) != 0)
		return -1;
	return rt->shared != NULL ? shared_render_metrics(rt->shared, out) : 0;
}

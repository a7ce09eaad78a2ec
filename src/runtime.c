/* runtime.c — what every worker shares: the configuration and the upstreams built from it. */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

int runtime_init(struct runtime *rt, const struct config *cfg, char *err, size_t errlen)
{
	size_t i;

	memset(rt, 0, sizeof *rt);
	rt->cfg = cfg;
	rt->started_wall_ms = clock_wall_ms();
	degrade_init(&rt->degrade, cfg->degradation.mode);
	if (cfg->degradation.cache.entries > 0) {
		rt->cache = cache_create(cfg->degradation.cache.entries, cfg->degradation.cache.max_bytes,
					 cfg->degradation.cache.ttl_ms);
		if (rt->cache == NULL) {
			snprintf(err, errlen, "out of memory for the cache");
			return -1;
		}
	}
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
	return -1;
}

void runtime_free(struct runtime *rt)
{
	size_t i;

	if (rt->upstreams != NULL)
		for (i = 0; i < rt->cfg->nupstreams; i++)
			upstream_free(&rt->upstreams[i]);
	free(rt->upstreams);
	cache_free(rt->cache);
	memset(rt, 0, sizeof *rt);
}

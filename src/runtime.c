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
	return -1;
}

void runtime_free(struct runtime *rt)
{
	size_t i;

	if (rt->upstreams != NULL)
		for (i = 0; i < rt->cfg->nupstreams; i++)
			upstream_free(&rt->upstreams[i]);
	free(rt->upstreams);
	memset(rt, 0, sizeof *rt);
}

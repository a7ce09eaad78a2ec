/* router.c — from a model name to its route, and from a route to the order its targets are tried in. */
#include "router.h"

#include <string.h>

const struct config_route *router_find(const struct config *cfg, const char *model)
{
	size_t i;

	/* Linear: routes are few, and a strcmp that fails on the first bytes is
	 * cheaper than hashing the name. */
	for (i = 0; i < cfg->nroutes; i++)
		if (strcmp(cfg->routes[i].name, model) == 0)
			return &cfg->routes[i];
	return cfg->catch_all;
}

static size_t router_draw(const struct config_target *targets, size_t n, uint64_t draw)
{
	uint64_t total = 0, point;
	size_t i;

	for (i = 0; i < n; i++)
		total += targets[i].weight;
	if (total == 0)
		return 0;
	point = draw % total;
	for (i = 0; i < n; i++) {
		if (point < targets[i].weight)
			return i;
		point -= targets[i].weight;
	}
	return 0;
}

size_t router_order(enum config_strategy strategy, const struct config_target *targets, size_t n,
		    uint64_t draw, size_t *order)
{
	size_t first = 0, i, k = 0;

	if (n > ROUTER_MAX_TARGETS)
		n = ROUTER_MAX_TARGETS;
	if (n == 0)
		return 0;
	if (strategy == CONFIG_STRATEGY_WEIGHTED)
		first = router_draw(targets, n, draw);
	order[k++] = first;
	for (i = 0; i < n; i++)
		if (i != first)
			order[k++] = i;
	return k;
}

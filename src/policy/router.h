/* router.h — from a model name to its route, and from a route to the order its targets are tried in. */
#ifndef DETOUR_ROUTER_H
#define DETOUR_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Routes can name at most this many targets; config checks it. */
#define ROUTER_MAX_TARGETS CONFIG_MAX_TARGETS

/* The route whose name is model, else the "*" route, else NULL. */
const struct config_route *router_find(const struct config *cfg, const char *model);

/*
 * Writes into order[] the indices of targets[0..n) in the order they are
 * tried, and returns how many (at most ROUTER_MAX_TARGETS). Fallback: as
 * configured. Weighted: the first is drawn by weight using draw (any random
 * number), then the others follow in configured order.
 */
size_t router_order(enum config_strategy strategy, const struct config_target *targets, size_t n,
		    uint64_t draw, size_t *order);

#endif

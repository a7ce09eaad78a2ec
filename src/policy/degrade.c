/* degrade.c — graceful degradation: the levels a request cascades through, and the daemon-wide floor an operator can pin. */
#include "degrade.h"

#include <string.h>

void degrade_init(struct degrade *d, enum config_level mode)
{
	atomic_init(&d->mode, (int)mode);
	atomic_init(&d->last_degraded_ms, 0);
	atomic_init(&d->last_level, (int)CONFIG_LEVEL_FULL);
}

enum config_level degrade_mode(struct degrade *d)
{
	return (enum config_level)atomic_load_explicit(&d->mode, memory_order_relaxed);
}

void degrade_set_mode(struct degrade *d, enum config_level mode)
{
	atomic_store(&d->mode, (int)mode);
}

void degrade_note_answer(struct degrade *d, enum config_level level, uint64_t now)
{
	if (level == CONFIG_LEVEL_FULL || level == CONFIG_LEVEL_AUTO)
		return;
	atomic_store_explicit(&d->last_level, (int)level, memory_order_relaxed);
	atomic_store_explicit(&d->last_degraded_ms, now, memory_order_relaxed);
}

enum config_level degrade_recent_level(struct degrade *d, uint64_t now)
{
	uint64_t at = atomic_load_explicit(&d->last_degraded_ms, memory_order_relaxed);

	if (at == 0 || now >= at + DEGRADE_RECENT_MS)
		return CONFIG_LEVEL_FULL;
	return (enum config_level)atomic_load_explicit(&d->last_level, memory_order_relaxed);
}

enum config_level degrade_first_level(enum config_level mode)
{
	return mode == CONFIG_LEVEL_AUTO ? CONFIG_LEVEL_FULL : mode;
}

enum config_level degrade_next_level(enum config_level mode, enum config_level level, bool cache_on,
				     bool offline_on)
{
	if (mode == CONFIG_LEVEL_FULL)
		return CONFIG_LEVEL_AUTO;
	switch (level) {
	case CONFIG_LEVEL_FULL:
		return CONFIG_LEVEL_REDUCED;
	case CONFIG_LEVEL_REDUCED:
		return CONFIG_LEVEL_MINIMAL;
	case CONFIG_LEVEL_MINIMAL:
		if (cache_on)
			return CONFIG_LEVEL_CACHED;
		return offline_on ? CONFIG_LEVEL_OFFLINE : CONFIG_LEVEL_AUTO;
	case CONFIG_LEVEL_CACHED:
		return offline_on ? CONFIG_LEVEL_OFFLINE : CONFIG_LEVEL_AUTO;
	default:
		return CONFIG_LEVEL_AUTO;
	}
}

bool degrade_calls_upstreams(enum config_level level)
{
	return level == CONFIG_LEVEL_FULL || level == CONFIG_LEVEL_REDUCED || level == CONFIG_LEVEL_MINIMAL;
}

const struct config_target *degrade_targets(const struct config_route *route, enum config_level level, size_t *n)
{
	if ((level == CONFIG_LEVEL_REDUCED || level == CONFIG_LEVEL_MINIMAL) && route->nreduced > 0) {
		*n = route->nreduced;
		return route->reduced;
	}
	*n = route->ntargets;
	return route->targets;
}

void degrade_changes(const struct config *cfg, enum config_level level, const struct config_target *target,
		     struct request_changes *out)
{
	const struct config_level_limits *limits = NULL;
	unsigned cap = target->max_tokens;

	if (level == CONFIG_LEVEL_REDUCED)
		limits = &cfg->degradation.reduced;
	else if (level == CONFIG_LEVEL_MINIMAL)
		limits = &cfg->degradation.minimal;
	out->model = target->model;
	out->drop = 0;
	if (limits != NULL) {
		if (limits->max_tokens > 0 && (cap == 0 || limits->max_tokens < cap))
			cap = limits->max_tokens;
		out->drop = limits->drop;
	}
	out->max_tokens = cap;
}

int degrade_parse_level(const char *name, enum config_level *level)
{
	static const enum config_level all[] = {
		CONFIG_LEVEL_AUTO, CONFIG_LEVEL_FULL, CONFIG_LEVEL_REDUCED,
		CONFIG_LEVEL_MINIMAL, CONFIG_LEVEL_CACHED, CONFIG_LEVEL_OFFLINE,
	};
	size_t i;

	for (i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(name, config_level_name(all[i])) == 0) {
			*level = all[i];
			return 0;
		}
	}
	return -1;
}

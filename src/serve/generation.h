/* generation.h — one configuration and the workers running on it: started beside the previous one on reload, drained, freed. */
#ifndef DETOUR_GENERATION_H
#define DETOUR_GENERATION_H

#include <stddef.h>

#include "config.h"
#include "runtime.h"

/*
 * A reload starts the next generation beside the running one, then lets the
 * running one drain and go: exchanges never move between generations, so
 * nothing in the request path is shared across a reload but what the runtime
 * hands over on purpose (runtime_carry).
 */
struct worker;

struct generation {
	struct config *cfg;
	struct runtime rt;
	struct worker *workers;       /* cfg->server.workers of them */
	unsigned nworkers;            /* started so far */
};

/*
 * Starts the workers of cfg (taken; freed on failure), carrying over prev's
 * state when there is a prev (which keeps serving). Returns the running
 * generation, or NULL with err filled and prev as it was.
 */
struct generation *generation_start(struct config *cfg, struct generation *prev, char *err, size_t errlen);

/* Stops accepting, lets open requests finish within server.drain_timeout, and joins the workers. */
void generation_stop(struct generation *g);

/* Frees a stopped generation, its configuration included. */
void generation_free(struct generation *g);

/*
 * Reads path again and, when it passes every check, starts its generation,
 * makes it *current, and drains and frees the one before. A file that fails
 * its checks, or workers that cannot start, leave *current as it was. Every
 * outcome is logged.
 */
void generation_reload(const char *path, struct generation **current);

#endif

/* generation.h — one configuration and the workers running on it: started beside the previous one on reload, drained, freed. */
#ifndef DETOUR_GENERATION_H
#define DETOUR_GENERATION_H

#include <stdbool.h>
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
	unsigned number;              /* 1 for the first, one more each reload */
};

/*
 * Told once a reload is decided, before the previous generation drains:
 * current is the generation serving now (the new one when reloaded), why the
 * refusal's message or the "reloaded ..." line.
 */
typedef void generation_decided_fn(void *arg, struct generation *current, int reloaded, const char *why);

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
 * makes it *current, tells decided (when not NULL), and drains and frees the
 * one before. A file that fails its checks, or workers that cannot start,
 * leave *current as it was (decided is told why). Every outcome is logged.
 * Returns 0 when reloaded, -1 when refused.
 */
int generation_reload(const char *path, struct generation **current, generation_decided_fn *decided, void *arg);

/* Wakes every worker once, so each heartbeat moves if its thread is alive. */
void generation_ping(struct generation *g);

/*
 * True when every worker's loop has turned since the last call (or since the
 * generation started): each worker thread proves it is alive before the
 * service manager's watchdog hears so. Main thread only.
 */
bool generation_alive(struct generation *g);

#endif

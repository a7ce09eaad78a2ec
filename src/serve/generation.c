/* generation.c — one configuration and the workers running on it: started beside the previous one on reload, drained, freed. */
#include "generation.h"
#include "config_load.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "clock.h"
#include "metrics.h"
#include "server.h"
#include "worker.h"

void generation_stop(struct generation *g)
{
	unsigned i;

	for (i = 0; i < g->nworkers; i++)
		worker_request_stop(&g->workers[i]);
	for (i = 0; i < g->nworkers; i++)
		worker_join(&g->workers[i]);
}

void generation_free(struct generation *g)
{
	free(g->workers);
	runtime_free(&g->rt);
	config_free(g->cfg);
	free(g);
}

static bool generation_same_address(const struct config *a, const struct config *b)
{
	return strcmp(a->server.host, b->server.host) == 0 && a->server.port == b->server.port;
}

/* The listening socket worker i of the next generation takes over from prev,
 * so no connection waiting to be accepted is dropped; -1: it binds its own. */
static int generation_handed_socket(const struct generation *prev, const struct config *cfg, unsigned i)
{
	if (prev == NULL || !generation_same_address(prev->cfg, cfg) || i >= prev->nworkers ||
	    worker_listen_fd(&prev->workers[i]) < 0)
		return -1;
	return fcntl(worker_listen_fd(&prev->workers[i]), F_DUPFD_CLOEXEC, 0);
}

struct generation *generation_start(struct config *cfg, struct generation *prev, char *err, size_t errlen)
{
	struct generation *g = calloc(1, sizeof *g);
	unsigned i;

	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		config_free(cfg);
		return NULL;
	}
	g->cfg = cfg;
	if (runtime_init(&g->rt, cfg, err, errlen) != 0) {
		config_free(cfg);
		free(g);
		return NULL;
	}
	if (prev != NULL)
		runtime_carry(&g->rt, &prev->rt);
	if (runtime_share(&g->rt, prev != NULL ? &prev->rt : NULL, err, errlen) != 0)
		goto fail;
	g->workers = calloc(cfg->server.workers, sizeof *g->workers);
	if (g->workers == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < cfg->server.workers; i++) {
		if (worker_start(&g->workers[i], &g->rt, i, generation_handed_socket(prev, cfg, i), err, errlen) != 0)
			goto fail;
		g->nworkers = i + 1;
	}
	if (prev != NULL)
		runtime_carry_metrics(&g->rt, &prev->rt);
	g->number = prev != NULL ? prev->number + 1 : 1;
	return g;
fail:
	generation_stop(g);
	/* The cache goes back to the generation that keeps serving. */
	if (prev != NULL && prev->rt.cache == g->rt.cache && g->rt.owns_cache) {
		prev->rt.owns_cache = true;
		g->rt.owns_cache = false;
	}
	if (prev != NULL)
		runtime_unshare(&g->rt, &prev->rt);
	generation_free(g);
	return NULL;
}

/* Logs the refusal and tells decided; returns -1. */
static int generation_refused(const char *what, const char *path, const char *err, struct generation *current,
			      generation_decided_fn *decided, void *arg)
{
	char why[1200];

	snprintf(why, sizeof why, "%s; still serving the previous configuration: %s", what, err);
	log_error(why, LOG_STR("path", path));
	metrics_note_reload(0, clock_wall_ms());
	if (decided != NULL)
		decided(arg, current, 0, why);
	return -1;
}

int generation_reload(const char *path, struct generation **current, generation_decided_fn *decided, void *arg)
{
	struct generation *old = *current, *next;
	struct config *cfg = NULL;
	char err[1024], said[512];

	log_info("SIGHUP: reloading", LOG_STR("path", path));
	if (config_load(path, &cfg, err, sizeof err) != 0)
		return generation_refused("reload refused", path, err, old, decided, arg);
	if (!generation_same_address(cfg, old->cfg) &&
	    server_probe_address(cfg->server.host, cfg->server.port, err, sizeof err) != 0) {
		config_free(cfg);
		return generation_refused("reload refused", path, err, old, decided, arg);
	}
	next = generation_start(cfg, old, err, sizeof err);
	if (next == NULL)
		return generation_refused("reload failed", path, err, old, decided, arg);
	*current = next;
	log_set_level(next->cfg->log.level);
	log_set_format(next->cfg->log.format);
	metrics_note_reload(1, clock_wall_ms());
	snprintf(said, sizeof said, "reloaded %s: listening on %s:%u with %u workers, %zu upstreams, %zu routes", path,
		 next->cfg->server.host, next->cfg->server.port, next->cfg->server.workers, next->cfg->nupstreams,
		 next->cfg->nroutes);
	log_info(said, LOG_STR("path", path), LOG_UINT("workers", next->cfg->server.workers),
		 LOG_UINT("upstreams", next->cfg->nupstreams), LOG_UINT("routes", next->cfg->nroutes));
	if (decided != NULL)
		decided(arg, next, 1, said);
	generation_stop(old);
	runtime_carry_metrics(&next->rt, &old->rt);
	generation_free(old);
	log_info("the previous configuration's requests are finished");
	return 0;
}

void generation_ping(struct generation *g)
{
	for (unsigned i = 0; i < g->nworkers; i++)
		worker_ping(&g->workers[i]);
}

bool generation_alive(struct generation *g)
{
	bool alive = true;

	for (unsigned i = 0; i < g->nworkers; i++) {
		uint64_t beat = atomic_load_explicit(&g->workers[i].heartbeat, memory_order_relaxed);

		if (beat == g->workers[i].heartbeat_seen)
			alive = false;
		g->workers[i].heartbeat_seen = beat;
	}
	return alive;
}

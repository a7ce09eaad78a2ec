/* generation.c — one configuration and the workers running on it: started beside the previous one on reload, drained, freed. */
#include "generation.h"
#include "config_load.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
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
	return g;
fail:
	generation_stop(g);
	/* The cache goes back to the generation that keeps serving. */
	if (prev != NULL && prev->rt.cache == g->rt.cache && g->rt.owns_cache) {
		prev->rt.owns_cache = true;
		g->rt.owns_cache = false;
	}
	generation_free(g);
	return NULL;
}

void generation_reload(const char *path, struct generation **current)
{
	struct generation *old = *current, *next;
	struct config *cfg = NULL;
	char err[1024];

	log_info("SIGHUP: reloading %s", path);
	if (config_load(path, &cfg, err, sizeof err) != 0) {
		log_error("reload refused; still serving the previous configuration: %s", err);
		return;
	}
	if (!generation_same_address(cfg, old->cfg) &&
	    server_probe_address(cfg->server.host, cfg->server.port, err, sizeof err) != 0) {
		log_error("reload refused; still serving the previous configuration: %s", err);
		config_free(cfg);
		return;
	}
	next = generation_start(cfg, old, err, sizeof err);
	if (next == NULL) {
		log_error("reload failed; still serving the previous configuration: %s", err);
		return;
	}
	*current = next;
	log_set_level(next->cfg->log.level);
	log_info("reloaded %s: listening on %s:%u with %u workers, %zu upstreams, %zu routes", path,
		 next->cfg->server.host, next->cfg->server.port, next->cfg->server.workers, next->cfg->nupstreams,
		 next->cfg->nroutes);
	generation_stop(old);
	runtime_carry_metrics(&next->rt, &old->rt);
	generation_free(old);
	log_info("the previous configuration's requests are finished");
}

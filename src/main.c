/* main.c — detourd's command line, start-up, signals and shutdown. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "runtime.h"
#include "server.h"
#include "worker.h"

#define MAIN_DEFAULT_CONFIG "/etc/detour/detour.yaml"

static void main_usage(FILE *out)
{
	fprintf(out,
		"usage: detourd [-c FILE] [-t]\n"
		"\n"
		"An OpenAI-compatible proxy that forwards each request to the first healthy\n"
		"upstream of an ordered list.\n"
		"\n"
		"  -c, --config FILE  configuration file (default " MAIN_DEFAULT_CONFIG ")\n"
		"  -t, --test         check the configuration, print the verdict, and exit 0 or 1\n"
		"  -h, --help         this text\n"
		"  -V, --version      the version\n"
		"\n"
		"Signals: SIGTERM or SIGINT stop accepting, finish open requests within\n"
		"server.drain_timeout, and exit. SIGHUP reads the configuration again: new\n"
		"requests follow it at once, open ones finish as they began; a file that\n"
		"fails its checks is logged and changes nothing.\n");
}

/* Streams and idle keep-alive connections each hold a descriptor. */
static void main_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * One configuration and everything running on it. A reload starts the next
 * generation beside this one, then lets this one drain and go: exchanges
 * never move between generations, so nothing in the request path is shared
 * across a reload but what the runtime hands over on purpose.
 */
struct main_generation {
	struct config *cfg;
	struct runtime rt;
};

static void main_generation_stop(struct main_generation *g)
{
	unsigned i;

	for (i = 0; i < g->rt.nworkers; i++)
		worker_request_stop(&g->rt.workers[i]);
	for (i = 0; i < g->rt.nworkers; i++)
		worker_join(&g->rt.workers[i]);
}

/* Frees a stopped generation, its configuration included. */
static void main_generation_free(struct main_generation *g)
{
	unsigned i;

	for (i = 0; i < g->rt.nworkers; i++)
		worker_free_counters(&g->rt.workers[i]);
	free(g->rt.workers);
	runtime_free(&g->rt);
	config_free(g->cfg);
	free(g);
}

static bool main_same_address(const struct config *a, const struct config *b)
{
	return strcmp(a->server.host, b->server.host) == 0 && a->server.port == b->server.port;
}

/* The listening socket worker i of the next generation takes over from prev,
 * so no connection waiting to be accepted is dropped; -1: it binds its own. */
static int main_handed_socket(const struct main_generation *prev, const struct config *cfg, unsigned i)
{
	if (prev == NULL || !main_same_address(prev->cfg, cfg) || i >= prev->rt.nworkers ||
	    prev->rt.workers[i].listen_fd < 0)
		return -1;
	return fcntl(prev->rt.workers[i].listen_fd, F_DUPFD_CLOEXEC, 0);
}

/*
 * Starts the workers of cfg (taken; freed on failure), carrying over prev's
 * state when there is a prev (which keeps serving). Returns the running
 * generation, or NULL with err filled and prev as it was.
 */
static struct main_generation *main_generation_start(struct config *cfg, struct main_generation *prev, char *err,
						      size_t errlen)
{
	struct main_generation *g = calloc(1, sizeof *g);
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
	g->rt.workers = calloc(cfg->server.workers, sizeof *g->rt.workers);
	if (g->rt.workers == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < cfg->server.workers; i++) {
		if (worker_start(&g->rt.workers[i], &g->rt, i, main_handed_socket(prev, cfg, i), err, errlen) != 0)
			goto fail;
		g->rt.nworkers = i + 1;
	}
	if (prev != NULL)
		runtime_carry_metrics(&g->rt, &prev->rt);
	return g;
fail:
	main_generation_stop(g);
	/* The cache goes back to the generation that keeps serving. */
	if (prev != NULL && prev->rt.cache == g->rt.cache && g->rt.owns_cache) {
		prev->rt.owns_cache = true;
		g->rt.owns_cache = false;
	}
	main_generation_free(g);
	return NULL;
}

/* SIGHUP: the file is read again; a configuration that fails its checks, or
 * workers that cannot start, leave the running generation as it was. */
static void main_reload(const char *path, struct main_generation **current)
{
	struct main_generation *old = *current, *next;
	struct config *cfg = NULL;
	char err[1024];

	log_info("SIGHUP: reloading %s", path);
	if (config_load(path, &cfg, err, sizeof err) != 0) {
		log_error("reload refused; still serving the previous configuration: %s", err);
		return;
	}
	if (!main_same_address(cfg, old->cfg) &&
	    server_probe_address(cfg->server.host, cfg->server.port, err, sizeof err) != 0) {
		log_error("reload refused; still serving the previous configuration: %s", err);
		config_free(cfg);
		return;
	}
	next = main_generation_start(cfg, old, err, sizeof err);
	if (next == NULL) {
		log_error("reload failed; still serving the previous configuration: %s", err);
		return;
	}
	*current = next;
	log_set_level(next->cfg->log.level);
	log_info("reloaded %s: listening on %s:%u with %u workers, %zu upstreams, %zu routes", path,
		 next->cfg->server.host, next->cfg->server.port, next->cfg->server.workers, next->cfg->nupstreams,
		 next->cfg->nroutes);
	main_generation_stop(old);
	runtime_carry_metrics(&next->rt, &old->rt);
	main_generation_free(old);
	log_info("the previous configuration's requests are finished");
}

/* Serves cfg (taken) until SIGTERM or SIGINT; SIGHUP reloads path. */
static int main_serve(const char *path, struct config *cfg)
{
	struct main_generation *g;
	sigset_t signals;
	char err[512];
	uint64_t drain_ms;
	int sig = 0;

	if (server_probe_address(cfg->server.host, cfg->server.port, err, sizeof err) != 0) {
		fprintf(stderr, "detourd: %s\n", err);
		config_free(cfg);
		return 1;
	}
	/* Workers inherit this mask, so only this thread takes the signals. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	g = main_generation_start(cfg, NULL, err, sizeof err);
	if (g == NULL) {
		fprintf(stderr, "detourd: %s\n", err);
		return 1;
	}
	log_info("detourd %s listening on %s:%u with %u workers, %zu upstreams, %zu routes", DETOUR_VERSION,
		 g->cfg->server.host, g->cfg->server.port, g->cfg->server.workers, g->cfg->nupstreams, g->cfg->nroutes);
	for (;;) {
		sig = sigwaitinfo(&signals, NULL);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		if (sig == SIGHUP)
			main_reload(path, &g);
	}
	drain_ms = g->cfg->server.drain_timeout_ms;
	log_info("signal %d: stopping; open requests have %llu ms to finish", sig, (unsigned long long)drain_ms);
	main_generation_stop(g);
	main_generation_free(g);
	log_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = MAIN_DEFAULT_CONFIG;
	struct config *cfg = NULL;
	char err[1024];
	int test = 0, opt, rc;

	while ((opt = getopt_long(argc, argv, "c:thV", options, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': test = 1; break;
		case 'h': main_usage(stdout); return 0;
		case 'V': printf("detourd %s\n", DETOUR_VERSION); return 0;
		default: main_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		main_usage(stderr);
		return 2;
	}
	if (config_load(path, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (test) {
		printf("detourd: %s is valid (%zu upstreams, %zu routes)\n", path, cfg->nupstreams, cfg->nroutes);
		config_free(cfg);
		return 0;
	}
	log_set_level(cfg->log.level);
	signal(SIGPIPE, SIG_IGN);
	main_raise_fd_limit();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "detourd: curl_global_init failed\n");
		config_free(cfg);
		return 1;
	}
	rc = main_serve(path, cfg);
	curl_global_cleanup();
	return rc;
}

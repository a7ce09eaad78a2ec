/* main.c — detourd's command line, start-up, signals and shutdown. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <curl/curl.h>

#include "config.h"
#include "config_load.h"
#include "generation.h"
#include "log.h"
#include "server.h"

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

/* Serves cfg (taken) until SIGTERM or SIGINT; SIGHUP reloads path. */
static int main_serve(const char *path, struct config *cfg)
{
	struct generation *g;
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
	g = generation_start(cfg, NULL, err, sizeof err);
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
			generation_reload(path, &g);
	}
	drain_ms = g->cfg->server.drain_timeout_ms;
	log_info("signal %d: stopping; open requests have %llu ms to finish", sig, (unsigned long long)drain_ms);
	generation_stop(g);
	generation_free(g);
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

	/* Before any key is read: no core dump, no ptrace by the same user, and
	 * /proc/PID/mem and environ readable by root only. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		perror("detourd: prctl(PR_SET_DUMPABLE)");
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

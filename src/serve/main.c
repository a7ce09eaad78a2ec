/* main.c — detourd's command line, start-up, signals and shutdown. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "admin.h"
#include "clock.h"
#include "config.h"
#include "config_load.h"
#include "generation.h"
#include "control.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "probe.h"
#include "server.h"

#define MAIN_DEFAULT_CONFIG "/etc/detour/detour.yaml"

static void main_usage(FILE *out)
{
	fprintf(out,
		"usage: detourd [-c FILE] [-t | -s reload | --probe]\n"
		"\n"
		"An OpenAI-compatible proxy that forwards each request to the first healthy\n"
		"upstream of an ordered list.\n"
		"\n"
		"  -c, --config FILE  configuration file (default " MAIN_DEFAULT_CONFIG ")\n"
		"  -t, --test         check the configuration, print the verdict, and exit 0 or 1\n"
		"  -s reload          make the running detourd ($MAINPID, else server.pid_file)\n"
		"                     read its file again; exit 0 when it did, 1 with the reason\n"
		"      --probe        GET /health/live at the file's server.listen; exit 0 or 1\n"
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

/* What the main thread keeps while it serves. */
struct main_serving {
	const char *path;
	char *pid_file;             /* the one written at start; NULL: none */
	pid_t reload_client;        /* who sent the SIGHUP being handled; 0: nobody to answer */
	uint64_t watchdog_ms;       /* 0: no watchdog */
	char status[256];           /* the last STATUS= sent */
};

/* Tells the service manager how things stand, when that changed (or always, with extra lines first). */
static void main_notify_status(struct main_serving *m, struct generation *g, const char *extra)
{
	char status[256], message[512];
	const struct config *cfg = g->cfg;

	snprintf(status, sizeof status, "STATUS=listening on %s%s%s:%u, generation %u, %s",
		 strchr(cfg->server.host, ':') != NULL ? "[" : "", cfg->server.host,
		 strchr(cfg->server.host, ':') != NULL ? "]" : "", cfg->server.port, g->number,
		 admin_health_status(&g->rt, clock_now_ms()));
	if (extra == NULL && strcmp(status, m->status) == 0)
		return;
	snprintf(m->status, sizeof m->status, "%s", status);
	snprintf(message, sizeof message, "%s%s%s", extra != NULL ? extra : "", extra != NULL ? "\n" : "", status);
	if (notify_send(message) < 0)
		log_warn("cannot notify $NOTIFY_SOCKET", LOG_STR("error", strerror(errno)));
}

/* A reload is decided: answer the sender of SIGHUP, and tell the service manager it is over. */
static void main_reload_decided(void *arg, struct generation *current, int reloaded, const char *why)
{
	struct main_serving *m = arg;

	control_send_verdict(m->reload_client, reloaded, why);
	if (reloaded)
		generation_ping(current); /* so its heartbeats move before the watchdog looks */
	main_notify_status(m, current, m->watchdog_ms > 0 ? "READY=1\nWATCHDOG=1" : "READY=1");
}

/* Every tick: the watchdog hears from us only when every worker of g turned its loop since the last tick. */
static void main_tick(struct main_serving *m, struct generation *g)
{
	if (m->watchdog_ms > 0) {
		if (generation_alive(g))
			notify_send("WATCHDOG=1");
		else
			log_warn("a worker did not turn its loop in time; the watchdog is not told",
				 LOG_UINT("within_ms", m->watchdog_ms / 3));
		generation_ping(g);
	}
	main_notify_status(m, g, NULL);
}

/* How long the main thread sleeps between ticks: a third of the watchdog's interval, else 5 s for STATUS=. */
static uint64_t main_tick_ms(const struct main_serving *m)
{
	if (m->watchdog_ms == 0)
		return 5000;
	return m->watchdog_ms / 3 > 0 ? m->watchdog_ms / 3 : 1;
}

/* Waits for a signal until the next tick; the signal, 0 for the tick, with *sender set for SIGHUP. */
static int main_wait(const sigset_t *signals, uint64_t tick_ms, pid_t *sender)
{
	struct timespec wait = { .tv_sec = (time_t)(tick_ms / 1000), .tv_nsec = (long)(tick_ms % 1000) * 1000000L };
	siginfo_t info;
	int sig;

	do
		sig = sigtimedwait(signals, &info, &wait);
	while (sig < 0 && errno == EINTR);
	if (sig < 0)
		return 0;
	*sender = (info.si_code == SI_USER || info.si_code == SI_QUEUE) ? info.si_pid : 0;
	return sig;
}

/* Serves cfg (taken) until SIGTERM or SIGINT; SIGHUP reloads path. */
static int main_serve(const char *path, struct config *cfg)
{
	struct main_serving m = { .path = path };
	struct generation *g;
	sigset_t signals;
	char err[512], reloading[64], said[512];
	uint64_t drain_ms, next_tick;
	int sig = 0;

	m.watchdog_ms = notify_watchdog_usec() / 1000;
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
	if (g->cfg->server.pid_file != NULL) {
		if (control_pid_file_write(g->cfg->server.pid_file, getpid(), err, sizeof err) != 0)
			log_warn("no pid file: detourd -s reload will need $MAINPID", LOG_STR("error", err));
		else if ((m.pid_file = strdup(g->cfg->server.pid_file)) == NULL)
			log_warn("out of memory: server.pid_file stays behind at exit");
	}
	snprintf(said, sizeof said, "detourd %s listening on %s:%u with %u workers, %zu upstreams, %zu routes",
		 DETOUR_VERSION, g->cfg->server.host, g->cfg->server.port, g->cfg->server.workers, g->cfg->nupstreams,
		 g->cfg->nroutes);
	log_info(said, LOG_STR("version", DETOUR_VERSION), LOG_UINT("workers", g->cfg->server.workers),
		 LOG_UINT("upstreams", g->cfg->nupstreams), LOG_UINT("routes", g->cfg->nroutes));
	/* Every worker listens once generation_start returns: it binds before its thread starts. */
	generation_ping(g);
	main_notify_status(&m, g, m.watchdog_ms > 0 ? "READY=1\nWATCHDOG=1" : "READY=1");
	next_tick = clock_now_ms() + main_tick_ms(&m);
	for (;;) {
		uint64_t now = clock_now_ms();

		if (now >= next_tick) {
			main_tick(&m, g);
			next_tick = now + main_tick_ms(&m);
			continue;
		}
		m.reload_client = 0;
		sig = main_wait(&signals, next_tick - now, &m.reload_client);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		if (sig == SIGHUP) {
			char extra[96];

			snprintf(extra, sizeof extra, "RELOADING=1\n%s",
				 notify_monotonic_usec(reloading, sizeof reloading));
			main_notify_status(&m, g, extra);
			generation_reload(path, &g, main_reload_decided, &m);
		}
	}
	drain_ms = g->cfg->server.drain_timeout_ms;
	notify_send("STOPPING=1\nSTATUS=stopping: open requests are finishing");
	log_info("stopping; open requests have drain_timeout to finish", LOG_INT("signal", sig),
		 LOG_UINT("drain_timeout_ms", drain_ms));
	generation_stop(g);
	generation_free(g);
	if (m.pid_file != NULL)
		control_pid_file_remove(m.pid_file, getpid());
	free(m.pid_file);
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
		{ "probe", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = MAIN_DEFAULT_CONFIG;
	struct config *cfg = NULL;
	char err[1024];
	const char *signal_name = NULL;
	int test = 0, probe = 0, opt, rc;

	/* Before any key is read: no core dump, no ptrace by the same user, and
	 * /proc/PID/mem and environ readable by root only. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		perror("detourd: prctl(PR_SET_DUMPABLE)");
	while ((opt = getopt_long(argc, argv, "c:ts:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': test = 1; break;
		case 's': signal_name = optarg; break;
		case 'p': probe = 1; break;
		case 'h': main_usage(stdout); return 0;
		case 'V': printf("detourd %s\n", DETOUR_VERSION); return 0;
		default: main_usage(stderr); return 2;
		}
	}
	if (optind < argc || (signal_name != NULL && strcmp(signal_name, "reload") != 0) ||
	    test + probe + (signal_name != NULL) > 1) {
		main_usage(stderr);
		return 2;
	}
	if (signal_name != NULL)
		return control_reload(path, CONTROL_REPLY_TIMEOUT_MS);
	if (probe)
		return probe_run(path, PROBE_TIMEOUT_MS);
	if (config_load(path, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (test) {
		printf("detourd: %s is valid (%zu upstreams, %zu routes)\n", path, cfg->nupstreams, cfg->nroutes);
		config_free(cfg);
		return 0;
	}
	log_detect_journal();
	metrics_note_start(clock_wall_ms());
	log_set_level(cfg->log.level);
	log_set_format(cfg->log.format);
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

/* mock.c — detour-mock's main: the command line, the file-descriptor limit, signals and the server's lifetime. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "mock_fault_set.h"
#include "mock_server.h"

/* What main owns for the server's lifetime: the server borrows every string. */
struct mock_main {
	struct mock_config cfg;
	char *host;          /* from --listen */
	char *port;
	char *models_text;   /* --models, its commas turned into NULs */
	char **models;
	char *content;       /* --content or "Hello from NAME." */
};

static void mock_usage(FILE *out)
{
	fprintf(out,
		"usage: detour-mock --listen HOST:PORT [options] [faults]\n"
		"\n"
		"An OpenAI-compatible (or Anthropic Messages) HTTP server that injects faults, for\n"
		"failover drills and tests. Control API: GET /_mock/stats, POST /_mock/faults,\n"
		"POST /_mock/reset (see tests/mock/README.md).\n"
		"\n"
		"options:\n"
		"  --listen HOST:PORT         where to listen; [::1]:PORT for IPv6, PORT 0 picks a free one\n"
		"  --name NAME                name in stats and error messages (default mock)\n"
		"  --mode openai|anthropic    API dialect (default openai)\n"
		"  --content TEXT             answer text (default \"Hello from NAME.\")\n"
		"  --models a,b               models listed by GET /v1/models (default mock-model)\n"
		"  --api-key KEY              require this key (Bearer in openai mode, x-api-key in anthropic mode)\n"
		"  --seed N                   seed of the --fail-rate draws (default 1)\n"
		"  --help                     this text\n"
		"\n"
		"faults (durations take ms or s; a bare number is ms):\n");
	mock_fault_set_usage(out);
}

/* Splits HOST:PORT, [V6]:PORT. */
static int mock_parse_listen(struct mock_main *m, const char *text, char *err, size_t errlen)
{
	const char *colon;
	const char *host = text;
	size_t host_len;

	if (text[0] == '[') {
		colon = strstr(text, "]:");
		host = text + 1;
		host_len = colon ? (size_t)(colon - host) : 0;
		colon = colon ? colon + 1 : NULL;
	} else {
		colon = strrchr(text, ':');
		host_len = colon ? (size_t)(colon - text) : 0;
	}
	if (colon == NULL || host_len == 0 || colon[1] == '\0') {
		snprintf(err, errlen, "--listen: \"%s\" is not HOST:PORT", text);
		return -1;
	}
	free(m->host);
	free(m->port);
	m->host = strndup(host, host_len);
	m->port = strdup(colon + 1);
	m->cfg.host = m->host;
	m->cfg.port = m->port;
	return m->host && m->port ? 0 : -1;
}

/* Splits a,b,c in place. */
static int mock_parse_models(struct mock_main *m, const char *text, char *err, size_t errlen)
{
	size_t n = 1;
	char *p;

	free(m->models_text);
	free(m->models);
	m->models = NULL;
	m->models_text = strdup(text);
	if (m->models_text == NULL)
		goto fail;
	for (p = m->models_text; *p; p++)
		n += *p == ',';
	m->models = calloc(n, sizeof *m->models);
	if (m->models == NULL)
		goto fail;
	n = 0;
	for (p = strtok(m->models_text, ","); p != NULL; p = strtok(NULL, ","))
		m->models[n++] = p;
	if (n == 0) {
		snprintf(err, errlen, "--models: no model in \"%s\"", text);
		return -1;
	}
	m->cfg.models = m->models;
	m->cfg.n_models = n;
	return 0;
fail:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Text that goes into JSON answers as is must be UTF-8. */
static int mock_check_utf8(const char *option, const char *text, char *err, size_t errlen)
{
	json_t *s = json_string(text);

	if (s == NULL) {
		snprintf(err, errlen, "%s: not UTF-8 text", option);
		return -1;
	}
	json_decref(s);
	return 0;
}

/* One of main's own options (not a fault). */
static int mock_main_option(struct mock_main *m, const char *option, const char *value, char *err, size_t errlen)
{
	char *end;

	if (strcmp(option, "--listen") == 0)
		return mock_parse_listen(m, value, err, errlen);
	if (strcmp(option, "--name") == 0) {
		m->cfg.name = value;
		return mock_check_utf8(option, value, err, errlen);
	}
	if (strcmp(option, "--mode") == 0) {
		if (strcmp(value, "openai") == 0)
			m->cfg.mode = MOCK_MODE_OPENAI;
		else if (strcmp(value, "anthropic") == 0)
			m->cfg.mode = MOCK_MODE_ANTHROPIC;
		else {
			snprintf(err, errlen, "--mode: \"%s\" is neither openai nor anthropic", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(option, "--content") == 0) {
		free(m->content);
		m->content = strdup(value);
		return m->content ? mock_check_utf8(option, value, err, errlen) : -1;
	}
	if (strcmp(option, "--models") == 0)
		return mock_parse_models(m, value, err, errlen);
	if (strcmp(option, "--api-key") == 0) {
		m->cfg.api_key = value;
		return 0;
	}
	if (strcmp(option, "--seed") == 0) {
		errno = 0;
		m->cfg.seed = strtoull(value, &end, 10);
		if (errno == 0 && end != value && *end == '\0')
			return 0;
		snprintf(err, errlen, "--seed: \"%s\" is not a whole number", value);
		return -1;
	}
	snprintf(err, errlen, "%s: unknown option (see --help)", option);
	return -1;
}

static bool mock_is_main_option(const char *option)
{
	static const char *const names[] = { "--listen", "--name", "--mode", "--content", "--models", "--api-key", "--seed" };
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i], option) == 0)
			return true;
	return false;
}

/*
 * Reads argv into m and faults. Options take their value as the next argument
 * or after '=' (--latency=200ms). Returns 0, 1 for --help, -1 with err.
 */
static int mock_parse_args(struct mock_main *m, struct mock_fault_set *faults, int argc, char **argv,
			   char *err, size_t errlen)
{
	char option[64];
	const char *value;
	const char *eq;
	int arity;
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return 1;
		eq = strchr(arg, '=');
		snprintf(option, sizeof option, "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
		arity = mock_is_main_option(option) ? 1 : mock_fault_set_option_arity(option);
		if (arity < 0) {
			snprintf(err, errlen, "%s: unknown option (see --help)", arg);
			return -1;
		}
		value = eq ? eq + 1 : NULL;
		if (arity == 1 && value == NULL) {
			if (i + 1 == argc) {
				snprintf(err, errlen, "%s: needs a value", option);
				return -1;
			}
			value = argv[++i];
		} else if (arity == 0 && value != NULL) {
			snprintf(err, errlen, "%s: takes no value", option);
			return -1;
		}
		if (mock_is_main_option(option) ? mock_main_option(m, option, value, err, errlen) < 0
						: mock_fault_set_option(faults, option, value, err, errlen) < 0)
			return -1;
	}
	if (m->host == NULL) {
		snprintf(err, errlen, "--listen HOST:PORT is required (see --help)");
		return -1;
	}
	if (m->content == NULL) {
		size_t len = strlen(m->cfg.name) + sizeof "Hello from .";

		m->content = malloc(len);
		if (m->content == NULL)
			return -1;
		snprintf(m->content, len, "Hello from %s.", m->cfg.name);
	}
	m->cfg.content = m->content;
	return 0;
}

/* Every connection holds a descriptor and a thread: take all the descriptors the hard limit allows. */
static void mock_raise_nofile(void)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
			perror("detour-mock: setrlimit(RLIMIT_NOFILE)");
	}
}

static void mock_main_free(struct mock_main *m)
{
	free(m->host);
	free(m->port);
	free(m->models_text);
	free(m->models);
	free(m->content);
}

int main(int argc, char **argv)
{
	static char *default_models[] = { "mock-model" };
	struct mock_main m = {
		.cfg = { .name = "mock", .mode = MOCK_MODE_OPENAI, .models = default_models, .n_models = 1, .seed = 1 },
	};
	struct mock_fault_set *faults = mock_fault_set_new();
	struct mock_server *srv = NULL;
	char err[512];
	sigset_t stop;
	int status = 2;
	int sig;
	int rc;

	if (faults == NULL) {
		fprintf(stderr, "detour-mock: out of memory\n");
		return 1;
	}
	rc = mock_parse_args(&m, faults, argc, argv, err, sizeof err);
	if (rc != 0) {
		if (rc > 0) {
			mock_usage(stdout);
			status = 0;
		} else {
			fprintf(stderr, "detour-mock: %s\n", err);
		}
		mock_fault_set_release(faults);
		goto done;
	}
	mock_raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	/* blocked before any thread starts, so every libmicrohttpd thread inherits the mask and sigwait() gets them */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	if (mock_server_start(&srv, &m.cfg, faults, err, sizeof err) < 0) {
		fprintf(stderr, "detour-mock %s: %s\n", m.cfg.name, err);
		status = 1;
		goto done;
	}
	printf("detour-mock %s listening on %s%s%s:%u\n", m.cfg.name, strchr(m.host, ':') ? "[" : "", m.host,
	       strchr(m.host, ':') ? "]" : "", mock_server_port(srv));
	fflush(stdout);
	while (sigwait(&stop, &sig) != 0)
		;
	mock_server_stop(srv);
	status = 0;
done:
	mock_main_free(&m);
	return status;
}

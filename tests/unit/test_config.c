/* test_config.c — the configuration loader: good files and their values, bad files and their exact messages. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_load.h"
#include "suites.h"

#define PATH_LEN 512   /* a file in tmpdir */
#define TEXT_LEN 4096  /* a test file or an expected message */

static char tmpdir[256];
static char errbuf[1024];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/detour-config-XXXXXX", base != NULL && *base != '\0' ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes content to tmpdir/name; the full path goes into path. */
static const char *write_file(const char *name, const char *content, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(content, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static struct config *load_ok(const char *yaml)
{
	struct config *cfg = NULL;

	errbuf[0] = '\0';
	ck_assert_msg(config_load_string("test.yaml", yaml, strlen(yaml), &cfg, errbuf, sizeof errbuf) == 0,
		      "refused: %s", errbuf);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* Loads a file that must be refused; checks *out stays untouched and returns the message. */
static const char *load_err(const char *yaml)
{
	static struct config untouched;
	struct config *cfg = &untouched;

	errbuf[0] = '\0';
	ck_assert_int_eq(config_load_string("test.yaml", yaml, strlen(yaml), &cfg, errbuf, sizeof errbuf), -1);
	ck_assert_ptr_eq(cfg, &untouched);
	return errbuf;
}

#define ck_assert_rejected(yaml, message) ck_assert_str_eq(load_err(yaml), message)

/* Just enough to load: one upstream, one route. Bad files below add one mistake each. */
#define OK_UPSTREAMS "upstreams:\n  openai:\n    base_url: http://a\n"
#define OK_MODELS "models:\n  \"*\":\n    targets: [ { upstream: openai } ]\n"
#define OK_MODELS_ABC "models:\n  \"*\":\n    targets: [ { upstream: a }, { upstream: b }, { upstream: c } ]\n"

static void set_provider_keys(void)
{
	setenv("OPENAI_API_KEY", "sk-openai-test", 1);
	setenv("ANTHROPIC_API_KEY", "sk-ant-test", 1);
	setenv("GROQ_API_KEY", "gsk_groq_test", 1);
	setenv("DETOUR_ADMIN_TOKEN", "admin-test-token", 1);
}

/* A full configuration using every section of the documented format; the client keys file lives in tmpdir. */
static const char full_example[] =
	"server:\n"
	"  listen: 127.0.0.1:8080          # host:port; [::1]:8080 for IPv6\n"
	"  workers: 0                      # 0 = one per core\n"
	"  max_body: 4MiB                  # larger request → 413\n"
	"  max_connections: 10000\n"
	"  request_timeout: 120s           # whole request, every attempt and backoff included\n"
	"\n"
	"auth:\n"
	"  client_keys_file: %s   # one key a line; absent: no client auth\n"
	"  admin_token_env: DETOUR_ADMIN_TOKEN          # absent: /admin/* answers 404\n"
	"\n"
	"upstreams:\n"
	"  openai:\n"
	"    provider: openai              # openai (any OpenAI-compatible API) | anthropic\n"
	"    base_url: https://api.openai.com/v1\n"
	"    api_key_env: OPENAI_API_KEY\n"
	"    timeouts: { connect: 2s, first_byte: 30s, idle: 30s, total: 120s }\n"
	"    retries: { attempts: 1, base_delay: 200ms, max_delay: 5s }  # extra tries here before moving on\n"
	"    breaker: { failures: 5, window: 60s, cooldown: 30s, half_open_probes: 1 }\n"
	"    health_check: { interval: 15s }  # optional; GET {base_url}/models, never a billed call\n"
	"  anthropic:\n"
	"    provider: anthropic\n"
	"    base_url: https://api.anthropic.com/v1\n"
	"    api_key_env: ANTHROPIC_API_KEY\n"
	"  groq:\n"
	"    provider: openai\n"
	"    base_url: https://api.groq.com/openai/v1\n"
	"    api_key_env: GROQ_API_KEY\n"
	"\n"
	"models:                           # keyed by what clients put in \"model\"\n"
	"  gpt-4o:\n"
	"    strategy: fallback            # fallback: in order | weighted: by weight, then the rest in order\n"
	"    targets:\n"
	"      - { upstream: openai, model: gpt-4o }\n"
	"      - { upstream: anthropic, model: claude-3-5-haiku-latest }\n"
	"      - { upstream: groq, model: llama-3.1-8b-instant, max_tokens: 512 }\n"
	"  \"*\":                            # any other model: passed through unchanged\n"
	"    targets: [ { upstream: openai } ]\n"
	"\n"
	"fallback_on: [connect, timeout, 408, 409, 429, 5xx, 401, 403, 404]  # the default\n"
	"# never: a 400 caused by the request itself goes back to the client as is\n"
	"\n"
	"degradation:\n"
	"  mode: auto                      # auto | full | reduced | minimal | cached | offline\n"
	"  reduced: { max_tokens: 2048, drop: [tools] }\n"
	"  minimal: { max_tokens: 512, drop: [tools, stream] }\n"
	"  cache: { entries: 10000, ttl: 1h }\n"
	"  offline_message: \"The assistant is unavailable right now. Please try again shortly.\"\n";

/* ---- good files ----------------------------------------------------------- */

START_TEST(full_example_loads_with_every_value)
{
	char keys[PATH_LEN], yaml[sizeof full_example + PATH_LEN];
	struct config *cfg;
	const struct config_upstream *openai, *anthropic, *groq;
	const struct config_route *gpt;

	set_provider_keys();
	write_file("client-keys", "ck-alice\nck-bob\n", keys, sizeof keys);
	snprintf(yaml, sizeof yaml, full_example, keys);
	cfg = load_ok(yaml);

	ck_assert_str_eq(cfg->path, "test.yaml");
	ck_assert_str_eq(cfg->server.host, "127.0.0.1");
	ck_assert_uint_eq(cfg->server.port, 8080);
	ck_assert_uint_ge(cfg->server.workers, 1);
	ck_assert_uint_le(cfg->server.workers, 256);
	ck_assert_uint_eq(cfg->server.max_body, 4u << 20);
	ck_assert_uint_eq(cfg->server.max_connections, 10000);
	ck_assert_uint_eq(cfg->server.request_timeout_ms, 120000);

	ck_assert_uint_eq(cfg->auth.nclient_keys, 2);
	ck_assert_str_eq(cfg->auth.client_keys[0], "ck-alice");
	ck_assert_str_eq(cfg->auth.client_keys[1], "ck-bob");
	ck_assert_str_eq(cfg->auth.admin_token, "admin-test-token");

	ck_assert_uint_eq(cfg->nupstreams, 3);
	openai = config_find_upstream(cfg, "openai");
	anthropic = config_find_upstream(cfg, "anthropic");
	groq = config_find_upstream(cfg, "groq");
	ck_assert_ptr_eq(openai, &cfg->upstreams[0]);
	ck_assert_ptr_eq(anthropic, &cfg->upstreams[1]);
	ck_assert_ptr_eq(groq, &cfg->upstreams[2]);
	ck_assert_ptr_null(config_find_upstream(cfg, "azure"));
	ck_assert_uint_eq(groq->index, 2);
	ck_assert_int_eq(openai->provider, CONFIG_PROVIDER_OPENAI);
	ck_assert_int_eq(anthropic->provider, CONFIG_PROVIDER_ANTHROPIC);
	ck_assert_str_eq(openai->base_url, "https://api.openai.com/v1");
	ck_assert_str_eq(groq->base_url, "https://api.groq.com/openai/v1");
	ck_assert_str_eq(openai->api_key, "sk-openai-test");
	ck_assert_str_eq(anthropic->api_key, "sk-ant-test");
	ck_assert_str_eq(groq->api_key, "gsk_groq_test");
	ck_assert_uint_eq(openai->timeouts.connect_ms, 2000);
	ck_assert_uint_eq(openai->timeouts.first_byte_ms, 30000);
	ck_assert_uint_eq(openai->timeouts.idle_ms, 30000);
	ck_assert_uint_eq(openai->timeouts.total_ms, 120000);
	ck_assert_uint_eq(openai->retries.attempts, 1);
	ck_assert_uint_eq(openai->retries.base_delay_ms, 200);
	ck_assert_uint_eq(openai->retries.max_delay_ms, 5000);
	ck_assert_uint_eq(openai->breaker.failures, 5);
	ck_assert_uint_eq(openai->breaker.window_ms, 60000);
	ck_assert_uint_eq(openai->breaker.cooldown_ms, 30000);
	ck_assert_uint_eq(openai->breaker.half_open_probes, 1);
	ck_assert(openai->health_check.enabled);
	ck_assert_uint_eq(openai->health_check.interval_ms, 15000);
	ck_assert_uint_eq(openai->health_check.timeout_ms, 5000);
	ck_assert(!anthropic->health_check.enabled);

	ck_assert_uint_eq(cfg->nroutes, 2);
	gpt = &cfg->routes[0];
	ck_assert_str_eq(gpt->name, "gpt-4o");
	ck_assert_int_eq(gpt->strategy, CONFIG_STRATEGY_FALLBACK);
	ck_assert_uint_eq(gpt->ntargets, 3);
	ck_assert_ptr_eq(gpt->targets[0].upstream, openai);
	ck_assert_str_eq(gpt->targets[0].model, "gpt-4o");
	ck_assert_ptr_eq(gpt->targets[1].upstream, anthropic);
	ck_assert_str_eq(gpt->targets[1].model, "claude-3-5-haiku-latest");
	ck_assert_uint_eq(gpt->targets[1].max_tokens, 0);
	ck_assert_ptr_eq(gpt->targets[2].upstream, groq);
	ck_assert_uint_eq(gpt->targets[2].max_tokens, 512);
	ck_assert_uint_eq(gpt->targets[2].weight, 1);
	ck_assert_uint_eq(gpt->nreduced, 0);
	ck_assert_ptr_eq(cfg->catch_all, &cfg->routes[1]);
	ck_assert_str_eq(cfg->catch_all->name, "*");
	ck_assert_ptr_null(cfg->catch_all->targets[0].model);

	/* The example lists every default but protocol. */
	ck_assert(cfg->fallback_on.connect);
	ck_assert(cfg->fallback_on.timeout);
	ck_assert(!cfg->fallback_on.protocol);
	ck_assert(config_fallback_status(&cfg->fallback_on, 408));
	ck_assert(config_fallback_status(&cfg->fallback_on, 429));
	ck_assert(config_fallback_status(&cfg->fallback_on, 500));
	ck_assert(config_fallback_status(&cfg->fallback_on, 599));
	ck_assert(config_fallback_status(&cfg->fallback_on, 404));
	ck_assert(!config_fallback_status(&cfg->fallback_on, 400));
	ck_assert(!config_fallback_status(&cfg->fallback_on, 422));
	ck_assert(!config_fallback_status(&cfg->fallback_on, 200));

	ck_assert_int_eq(cfg->degradation.mode, CONFIG_LEVEL_AUTO);
	ck_assert_uint_eq(cfg->degradation.reduced.max_tokens, 2048);
	ck_assert_uint_eq(cfg->degradation.reduced.drop, CONFIG_DROP_TOOLS);
	ck_assert_uint_eq(cfg->degradation.minimal.max_tokens, 512);
	ck_assert_uint_eq(cfg->degradation.minimal.drop, CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM);
	ck_assert_uint_eq(cfg->degradation.cache.entries, 10000);
	ck_assert_uint_eq(cfg->degradation.cache.ttl_ms, 3600000);
	ck_assert_str_eq(cfg->degradation.offline_message,
			 "The assistant is unavailable right now. Please try again shortly.");
	config_free(cfg);
}
END_TEST

START_TEST(minimal_file_takes_every_default)
{
	struct config *cfg = load_ok("upstreams:\n"
				     "  only:\n"
				     "    base_url: http://localhost:9000/v1//\n"
				     "models:\n"
				     "  gpt-4o:\n"
				     "    targets:\n"
				     "      - upstream: only\n");
	const struct config_upstream *u = &cfg->upstreams[0];
	const struct config_target *t = &cfg->routes[0].targets[0];

	ck_assert_str_eq(cfg->server.host, "127.0.0.1");
	ck_assert_uint_eq(cfg->server.port, 8080);
	ck_assert_uint_ge(cfg->server.workers, 1);
	ck_assert_uint_le(cfg->server.workers, 256);
	ck_assert_uint_eq(cfg->server.max_body, 4u << 20);
	ck_assert_uint_eq(cfg->server.max_connections, 10000);
	ck_assert_uint_eq(cfg->server.request_timeout_ms, 120000);
	ck_assert_uint_eq(cfg->server.client_timeout_ms, 30000);
	ck_assert_uint_eq(cfg->server.drain_timeout_ms, 10000);
	ck_assert_uint_eq(cfg->server.max_response, 32u << 20);
	ck_assert_uint_eq(cfg->server.max_retry_after_ms, 10000);
	ck_assert_int_eq(cfg->log.level, LOG_LEVEL_INFO);
	ck_assert(!cfg->log.access);
	ck_assert_ptr_null(cfg->auth.client_keys);
	ck_assert_uint_eq(cfg->auth.nclient_keys, 0);
	ck_assert_ptr_null(cfg->auth.admin_token);

	ck_assert_uint_eq(cfg->nupstreams, 1);
	ck_assert_str_eq(u->name, "only");
	ck_assert_uint_eq(u->index, 0);
	ck_assert_int_eq(u->provider, CONFIG_PROVIDER_OPENAI);
	ck_assert_str_eq(u->base_url, "http://localhost:9000/v1");
	ck_assert_ptr_null(u->api_key);
	ck_assert_str_eq(u->anthropic_version, "2023-06-01");
	ck_assert_uint_eq(u->default_max_tokens, 4096);
	ck_assert_uint_eq(u->timeouts.connect_ms, 2000);
	ck_assert_uint_eq(u->timeouts.first_byte_ms, 30000);
	ck_assert_uint_eq(u->timeouts.idle_ms, 30000);
	ck_assert_uint_eq(u->timeouts.total_ms, 120000);
	ck_assert_uint_eq(u->retries.attempts, 1);
	ck_assert_uint_eq(u->retries.base_delay_ms, 200);
	ck_assert_uint_eq(u->retries.max_delay_ms, 5000);
	ck_assert_uint_eq(u->breaker.failures, 5);
	ck_assert_uint_eq(u->breaker.window_ms, 60000);
	ck_assert_uint_eq(u->breaker.cooldown_ms, 30000);
	ck_assert_uint_eq(u->breaker.half_open_probes, 1);
	ck_assert(!u->health_check.enabled);
	ck_assert_uint_eq(u->health_check.timeout_ms, 5000);

	ck_assert_uint_eq(cfg->nroutes, 1);
	ck_assert_str_eq(cfg->routes[0].name, "gpt-4o");
	ck_assert_int_eq(cfg->routes[0].strategy, CONFIG_STRATEGY_FALLBACK);
	ck_assert_ptr_null(cfg->catch_all);
	ck_assert_ptr_eq(t->upstream, u);
	ck_assert_ptr_null(t->model);
	ck_assert_uint_eq(t->max_tokens, 0);
	ck_assert_uint_eq(t->weight, 1);
	ck_assert_uint_eq(cfg->routes[0].nreduced, 0);

	ck_assert(cfg->fallback_on.connect);
	ck_assert(cfg->fallback_on.timeout);
	ck_assert(cfg->fallback_on.protocol);
	for (unsigned s = 0; s < 600; s++) {
		bool want = s == 408 || s == 409 || s == 429 || s == 401 || s == 403 || s == 404 || s >= 500;

		ck_assert_msg(config_fallback_status(&cfg->fallback_on, s) == want, "status %u", s);
	}
	ck_assert(!config_fallback_status(&cfg->fallback_on, 600));
	ck_assert(!config_fallback_status(&cfg->fallback_on, 70000));

	ck_assert_int_eq(cfg->degradation.mode, CONFIG_LEVEL_AUTO);
	ck_assert_uint_eq(cfg->degradation.reduced.max_tokens, 2048);
	ck_assert_uint_eq(cfg->degradation.reduced.drop, CONFIG_DROP_TOOLS);
	ck_assert_uint_eq(cfg->degradation.minimal.max_tokens, 512);
	ck_assert_uint_eq(cfg->degradation.minimal.drop, CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM);
	ck_assert_uint_eq(cfg->degradation.cache.entries, 10000);
	ck_assert_uint_eq(cfg->degradation.cache.ttl_ms, 3600000);
	ck_assert_uint_eq(cfg->degradation.cache.max_bytes, 64u << 20);
	ck_assert(!cfg->degradation.cache.serve_fresh);
	ck_assert_ptr_null(cfg->degradation.offline_message);
	config_free(cfg);
}
END_TEST

START_TEST(flow_style_file_with_every_section_loads)
{
	struct config *cfg = load_ok(
		"{ server: { listen: \"[::1]:9090\", workers: 3 }, log: { level: debug, access: yes },\n"
		"  upstreams: { a: { base_url: \"http://a/\", timeouts: { connect: 250ms } },\n"
		"               b: { provider: anthropic, base_url: \"https://b\", max_tokens: 1024 } },\n"
		"  models: { m: { strategy: weighted, targets: [ { upstream: a, weight: 3 }, { upstream: b, weight: 0 } ],\n"
		"                 reduced: [ { upstream: b, model: small } ] } },\n"
		"  fallback_on: [ connect, 503 ],\n"
		"  degradation: { mode: reduced, reduced: { max_tokens: 0, drop: [] } } }\n");
	const struct config_route *m = &cfg->routes[0];

	ck_assert_str_eq(cfg->server.host, "::1");
	ck_assert_uint_eq(cfg->server.port, 9090);
	ck_assert_uint_eq(cfg->server.workers, 3);
	ck_assert_int_eq(cfg->log.level, LOG_LEVEL_DEBUG);
	ck_assert(cfg->log.access);
	ck_assert_str_eq(cfg->upstreams[0].base_url, "http://a");
	ck_assert_uint_eq(cfg->upstreams[0].timeouts.connect_ms, 250);
	ck_assert_uint_eq(cfg->upstreams[0].timeouts.total_ms, 120000);
	ck_assert_int_eq(cfg->upstreams[1].provider, CONFIG_PROVIDER_ANTHROPIC);
	ck_assert_uint_eq(cfg->upstreams[1].index, 1);
	ck_assert_uint_eq(cfg->upstreams[1].default_max_tokens, 1024);
	ck_assert_int_eq(m->strategy, CONFIG_STRATEGY_WEIGHTED);
	ck_assert_uint_eq(m->ntargets, 2);
	ck_assert_uint_eq(m->targets[0].weight, 3);
	ck_assert_uint_eq(m->targets[1].weight, 0);
	ck_assert_uint_eq(m->nreduced, 1);
	ck_assert_ptr_eq(m->reduced[0].upstream, &cfg->upstreams[1]);
	ck_assert_str_eq(m->reduced[0].model, "small");
	ck_assert(cfg->fallback_on.connect);
	ck_assert(!cfg->fallback_on.timeout);
	ck_assert(!cfg->fallback_on.protocol);
	ck_assert(config_fallback_status(&cfg->fallback_on, 503));
	ck_assert(!config_fallback_status(&cfg->fallback_on, 502));
	ck_assert(!config_fallback_status(&cfg->fallback_on, 429));
	ck_assert_int_eq(cfg->degradation.mode, CONFIG_LEVEL_REDUCED);
	ck_assert_uint_eq(cfg->degradation.reduced.max_tokens, 0);
	ck_assert_uint_eq(cfg->degradation.reduced.drop, 0);
	config_free(cfg);
}
END_TEST

START_TEST(every_extension_key_is_read)
{
	char key[PATH_LEN], yaml[TEXT_LEN];
	struct config *cfg;
	const struct config_upstream *u;

	write_file("anthropic-key", "\n  sk-ant-from-file  \n\n", key, sizeof key);
	snprintf(yaml, sizeof yaml,
		 "server:\n"
		 "  listen: 0.0.0.0:80\n"
		 "  workers: 2\n"
		 "  max_body: 512KiB\n"
		 "  max_connections: 7\n"
		 "  request_timeout: 5m\n"
		 "  client_timeout: 10s\n"
		 "  drain_timeout: 0\n"
		 "  max_response: 1GB\n"
		 "  max_retry_after: 3s\n"
		 "log:\n"
		 "  level: warn\n"
		 "  access: On\n"
		 "upstreams:\n"
		 "  a:\n"
		 "    provider: anthropic\n"
		 "    base_url: https://a.example/v1\n"
		 "    api_key_file: %s\n"
		 "    timeouts: { connect: 1s, first_byte: 2s, idle: 3s, total: 4s }\n"
		 "    retries: { attempts: 0, base_delay: 0, max_delay: 0 }\n"
		 "    breaker: { failures: 1, window: 1s, cooldown: 2s, half_open_probes: 3 }\n"
		 "    health_check: { interval: 100ms, timeout: 1s }\n"
		 "    anthropic_version: 2024-01-01\n"
		 "    max_tokens: 8192\n"
		 "models:\n"
		 "  m:\n"
		 "    targets: [ { upstream: a } ]\n"
		 "fallback_on: [ 4xx, protocol, timeout ]\n"
		 "degradation:\n"
		 "  mode: offline\n"
		 "  minimal: { max_tokens: 100, drop: [stream] }\n"
		 "  cache: { entries: 0, ttl: 30s, max_bytes: 1MiB, serve_fresh: true }\n"
		 "  offline_message: |\n"
		 "    Down for maintenance.\n"
		 "    Back soon.\n",
		 key);
	cfg = load_ok(yaml);
	u = &cfg->upstreams[0];
	ck_assert_str_eq(cfg->server.host, "0.0.0.0");
	ck_assert_uint_eq(cfg->server.port, 80);
	ck_assert_uint_eq(cfg->server.workers, 2);
	ck_assert_uint_eq(cfg->server.max_body, 512 * 1024);
	ck_assert_uint_eq(cfg->server.max_connections, 7);
	ck_assert_uint_eq(cfg->server.request_timeout_ms, 300000);
	ck_assert_uint_eq(cfg->server.client_timeout_ms, 10000);
	ck_assert_uint_eq(cfg->server.drain_timeout_ms, 0);
	ck_assert_uint_eq(cfg->server.max_response, 1u << 30);
	ck_assert_uint_eq(cfg->server.max_retry_after_ms, 3000);
	ck_assert_int_eq(cfg->log.level, LOG_LEVEL_WARN);
	ck_assert(cfg->log.access);
	ck_assert_int_eq(u->provider, CONFIG_PROVIDER_ANTHROPIC);
	ck_assert_str_eq(u->api_key, "sk-ant-from-file");
	ck_assert_uint_eq(u->timeouts.connect_ms, 1000);
	ck_assert_uint_eq(u->timeouts.first_byte_ms, 2000);
	ck_assert_uint_eq(u->timeouts.idle_ms, 3000);
	ck_assert_uint_eq(u->timeouts.total_ms, 4000);
	ck_assert_uint_eq(u->retries.attempts, 0);
	ck_assert_uint_eq(u->retries.base_delay_ms, 0);
	ck_assert_uint_eq(u->retries.max_delay_ms, 0);
	ck_assert_uint_eq(u->breaker.failures, 1);
	ck_assert_uint_eq(u->breaker.window_ms, 1000);
	ck_assert_uint_eq(u->breaker.cooldown_ms, 2000);
	ck_assert_uint_eq(u->breaker.half_open_probes, 3);
	ck_assert(u->health_check.enabled);
	ck_assert_uint_eq(u->health_check.interval_ms, 100);
	ck_assert_uint_eq(u->health_check.timeout_ms, 1000);
	ck_assert_str_eq(u->anthropic_version, "2024-01-01");
	ck_assert_uint_eq(u->default_max_tokens, 8192);
	ck_assert(!cfg->fallback_on.connect);
	ck_assert(cfg->fallback_on.timeout);
	ck_assert(cfg->fallback_on.protocol);
	ck_assert(config_fallback_status(&cfg->fallback_on, 400));
	ck_assert(config_fallback_status(&cfg->fallback_on, 499));
	ck_assert(!config_fallback_status(&cfg->fallback_on, 500));
	ck_assert_int_eq(cfg->degradation.mode, CONFIG_LEVEL_OFFLINE);
	ck_assert_uint_eq(cfg->degradation.reduced.max_tokens, 2048);
	ck_assert_uint_eq(cfg->degradation.minimal.max_tokens, 100);
	ck_assert_uint_eq(cfg->degradation.minimal.drop, CONFIG_DROP_STREAM);
	ck_assert_uint_eq(cfg->degradation.cache.entries, 0);
	ck_assert_uint_eq(cfg->degradation.cache.ttl_ms, 30000);
	ck_assert_uint_eq(cfg->degradation.cache.max_bytes, 1u << 20);
	ck_assert(cfg->degradation.cache.serve_fresh);
	ck_assert_str_eq(cfg->degradation.offline_message, "Down for maintenance.\nBack soon.\n");
	config_free(cfg);
}
END_TEST

START_TEST(empty_values_count_as_absent_keys)
{
	struct config *cfg = load_ok("server:\n"
				     "auth: ~\n"
				     "upstreams:\n"
				     "  a:\n"
				     "    base_url: http://a\n"
				     "    health_check:\n"
				     "    api_key_env: null\n"
				     "models:\n"
				     "  \"*\":\n"
				     "    targets: [ { upstream: a, model: ~ } ]\n"
				     "fallback_on:\n"
				     "degradation:\n"
				     "  offline_message:\n");

	ck_assert_uint_eq(cfg->server.port, 8080);
	ck_assert_ptr_null(cfg->auth.client_keys);
	ck_assert_ptr_null(cfg->auth.admin_token);
	ck_assert(!cfg->upstreams[0].health_check.enabled);
	ck_assert_ptr_null(cfg->upstreams[0].api_key);
	ck_assert_ptr_null(cfg->catch_all->targets[0].model);
	ck_assert(cfg->fallback_on.protocol);
	ck_assert(config_fallback_status(&cfg->fallback_on, 503));
	ck_assert_ptr_null(cfg->degradation.offline_message);
	config_free(cfg);
}
END_TEST

START_TEST(ipv6_listen_address_loses_its_brackets)
{
	struct config *cfg = load_ok("server: { listen: \"[::1]:9000\" }\n" OK_UPSTREAMS OK_MODELS);

	ck_assert_str_eq(cfg->server.host, "::1");
	ck_assert_uint_eq(cfg->server.port, 9000);
	config_free(cfg);
}
END_TEST

START_TEST(client_keys_file_skips_comments_and_blank_lines)
{
	char keys[PATH_LEN], yaml[TEXT_LEN];
	struct config *cfg;

	write_file("keys", "# the web app\n\n  ck-web  \n\tck-batch\r\n# retired: ck-old\n   \nck-last", keys, sizeof keys);
	snprintf(yaml, sizeof yaml, "auth:\n  client_keys_file: %s\n" OK_UPSTREAMS OK_MODELS, keys);
	cfg = load_ok(yaml);
	ck_assert_uint_eq(cfg->auth.nclient_keys, 3);
	ck_assert_str_eq(cfg->auth.client_keys[0], "ck-web");
	ck_assert_str_eq(cfg->auth.client_keys[1], "ck-batch");
	ck_assert_str_eq(cfg->auth.client_keys[2], "ck-last");
	config_free(cfg);
}
END_TEST

START_TEST(admin_token_file_is_trimmed)
{
	char token[PATH_LEN], yaml[TEXT_LEN];
	struct config *cfg;

	write_file("admin-token", "  tok-123\n", token, sizeof token);
	snprintf(yaml, sizeof yaml, "auth:\n  admin_token_file: %s\n" OK_UPSTREAMS OK_MODELS, token);
	cfg = load_ok(yaml);
	ck_assert_str_eq(cfg->auth.admin_token, "tok-123");
	config_free(cfg);
}
END_TEST

START_TEST(relative_secret_files_are_found_beside_the_configuration)
{
	char conf[PATH_LEN], unused[PATH_LEN];
	struct config *cfg = NULL;

	write_file("keys", "ck-one\n", unused, sizeof unused);
	write_file("openai-key", "sk-beside\n", unused, sizeof unused);
	write_file("detour.yaml",
		   "auth: { client_keys_file: keys }\n"
		   "upstreams:\n"
		   "  openai: { base_url: \"http://a\", api_key_file: openai-key }\n"
		   OK_MODELS, conf, sizeof conf);
	ck_assert_msg(config_load(conf, &cfg, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	ck_assert_str_eq(cfg->path, conf);
	ck_assert_str_eq(cfg->auth.client_keys[0], "ck-one");
	ck_assert_str_eq(cfg->upstreams[0].api_key, "sk-beside");
	config_free(cfg);
}
END_TEST

START_TEST(anchors_and_aliases_are_followed)
{
	struct config *cfg = load_ok("upstreams:\n"
				     "  a: &same { base_url: \"http://a\", timeouts: { connect: 1s } }\n"
				     "  b: *same\n"
				     "models:\n"
				     "  \"*\": { targets: &both [ { upstream: a }, { upstream: b } ] }\n"
				     "  m: { targets: *both }\n");

	ck_assert_uint_eq(cfg->upstreams[1].timeouts.connect_ms, 1000);
	ck_assert_str_eq(cfg->upstreams[1].name, "b");
	ck_assert_ptr_eq(cfg->routes[1].targets[1].upstream, &cfg->upstreams[1]);
	config_free(cfg);
}
END_TEST

/* conf/detour.yaml, read from the source tree: make runs the tests from there. */
START_TEST(shipped_example_configuration_loads)
{
	struct config *cfg = NULL;
	const struct config_route *gpt;

	set_provider_keys();
	ck_assert_msg(config_load("conf/detour.yaml", &cfg, errbuf, sizeof errbuf) == 0,
		      "%s (run the tests from the top of the source tree)", errbuf);
	ck_assert_uint_eq(cfg->nupstreams, 4);
	ck_assert_ptr_null(config_find_upstream(cfg, "local")->api_key);
	ck_assert_str_eq(config_find_upstream(cfg, "anthropic")->api_key, "sk-ant-test");
	ck_assert_str_eq(cfg->auth.admin_token, "admin-test-token");
	ck_assert_ptr_null(cfg->auth.client_keys);
	gpt = &cfg->routes[0];
	ck_assert_uint_eq(gpt->nreduced, 2);
	ck_assert_str_eq(gpt->reduced[1].model, "llama3.1:8b");
	ck_assert_int_eq(cfg->routes[1].strategy, CONFIG_STRATEGY_WEIGHTED);
	ck_assert_ptr_eq(cfg->catch_all, &cfg->routes[2]);
	ck_assert(cfg->fallback_on.protocol);
	config_free(cfg);
}
END_TEST

START_TEST(names_of_levels_and_providers)
{
	ck_assert_str_eq(config_level_name(CONFIG_LEVEL_AUTO), "auto");
	ck_assert_str_eq(config_level_name(CONFIG_LEVEL_FULL), "full");
	ck_assert_str_eq(config_level_name(CONFIG_LEVEL_REDUCED), "reduced");
	ck_assert_str_eq(config_level_name(CONFIG_LEVEL_MINIMAL), "minimal");
	ck_assert_str_eq(config_level_name(CONFIG_LEVEL_CACHED), "cached");
	ck_assert_str_eq(config_level_name(CONFIG_LEVEL_OFFLINE), "offline");
	ck_assert_str_eq(config_provider_name(CONFIG_PROVIDER_OPENAI), "openai");
	ck_assert_str_eq(config_provider_name(CONFIG_PROVIDER_ANTHROPIC), "anthropic");
}
END_TEST

/* ---- bad files: each mistake, its message and its position ---------------- */

START_TEST(missing_file_cannot_be_opened)
{
	struct config *cfg = NULL;
	char path[PATH_LEN], want[TEXT_LEN];

	snprintf(path, sizeof path, "%s/absent.yaml", tmpdir);
	ck_assert_int_eq(config_load(path, &cfg, errbuf, sizeof errbuf), -1);
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
	ck_assert_str_eq(errbuf, want);
}
END_TEST

START_TEST(file_error_names_the_file_path)
{
	struct config *cfg = NULL;
	char conf[PATH_LEN], want[TEXT_LEN];

	write_file("bad.yaml", OK_UPSTREAMS OK_MODELS "colour: red\n", conf, sizeof conf);
	ck_assert_int_eq(config_load(conf, &cfg, errbuf, sizeof errbuf), -1);
	snprintf(want, sizeof want, "%s:7:1: colour: unknown key", conf);
	ck_assert_str_eq(errbuf, want);
}
END_TEST

START_TEST(empty_file_is_rejected)
{
	ck_assert_rejected("", "test.yaml:1:1: the configuration is empty");
	ck_assert_rejected("# nothing but a comment\n\n", "test.yaml:1:1: the configuration is empty");
	ck_assert_rejected("~\n", "test.yaml:1:1: the configuration is empty");
}
END_TEST

START_TEST(unknown_top_level_key_is_rejected_with_position)
{
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "listen: 127.0.0.1:80\n",
			   "test.yaml:7:1: listen: unknown key");
	ck_assert_rejected("upstream:\n  openai: { base_url: \"http://a\" }\n" OK_MODELS,
			   "test.yaml:1:1: upstream: unknown key (did you mean upstreams?)");
}
END_TEST

START_TEST(unknown_key_in_upstream_is_rejected_with_position_and_hint)
{
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "    timeout: 5s\n" OK_MODELS,
			   "test.yaml:4:5: upstreams.openai.timeout: unknown key (did you mean timeouts?)");
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "    colour: red\n" OK_MODELS,
			   "test.yaml:4:5: upstreams.openai.colour: unknown key");
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "    breaker: { failures: 3, cooldwn: 5s }\n" OK_MODELS,
			   "test.yaml:4:29: upstreams.openai.breaker.cooldwn: unknown key (did you mean cooldown?)");
}
END_TEST

START_TEST(unknown_key_in_target_is_rejected_with_position)
{
	ck_assert_rejected(OK_UPSTREAMS
			   "models:\n"
			   "  gpt-4o:\n"
			   "    targets:\n"
			   "      - upstream: openai\n"
			   "        modle: gpt-4o\n",
			   "test.yaml:8:9: models.gpt-4o.targets[0].modle: unknown key (did you mean model?)");
}
END_TEST

START_TEST(bad_duration_names_the_key_and_the_value)
{
	ck_assert_rejected("upstreams:\n"
			   "  groq:\n"
			   "    base_url: http://g\n"
			   "    timeouts:\n"
			   "      connect: 2x\n"
			   "models:\n  \"*\":\n    targets: [ { upstream: groq } ]\n",
			   "test.yaml:5:16: upstreams.groq.timeouts.connect: \"2x\" is not a duration");
	ck_assert_rejected("upstreams:\n"
			   "  groq:\n"
			   "    base_url: http://g\n"
			   "    timeouts: { total: 0 }\n",
			   "test.yaml:4:24: upstreams.groq.timeouts.total: must be above 0");
	ck_assert_rejected("server: { request_timeout: 1.5s }\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:1:28: server.request_timeout: \"1.5s\" is not a duration");
	ck_assert_rejected("server: { drain_timeout: 577h }\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:1:26: server.drain_timeout: must be at most 576h");
}
END_TEST

START_TEST(bad_size_names_the_key_and_the_value)
{
	ck_assert_rejected("server:\n  max_body: 4XB\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:2:13: server.max_body: \"4XB\" is not a size");
	ck_assert_rejected("server:\n  max_body: 0\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:2:13: server.max_body: must be at least 1 bytes");
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "degradation:\n  cache:\n    max_bytes: 64 MiB\n",
			   "test.yaml:9:16: degradation.cache.max_bytes: \"64 MiB\" is not a size");
}
END_TEST

START_TEST(bad_whole_numbers_are_rejected_with_their_range)
{
	ck_assert_rejected("server:\n  workers: -1\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:2:12: server.workers: \"-1\" is not a whole number");
	ck_assert_rejected("server:\n  workers: 257\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:2:12: server.workers: must be at most 256");
	ck_assert_rejected("server:\n  max_connections: 99999999999999999999999\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:2:20: server.max_connections: must be at most 2147483647");
	ck_assert_rejected("server:\n  max_connections: 0\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:2:20: server.max_connections: must be at least 1");
	ck_assert_rejected("upstreams:\n  openai: { base_url: \"http://a\", breaker: { failures: 0 } }\n" OK_MODELS,
			   "test.yaml:2:56: upstreams.openai.breaker.failures: must be at least 1");
}
END_TEST

START_TEST(bad_boolean_is_rejected)
{
	ck_assert_rejected("log: { access: maybe }\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:1:16: log.access: \"maybe\" is not true or false");
}
END_TEST

START_TEST(target_naming_an_undefined_upstream_is_rejected)
{
	static const char file[] =
		"upstreams:\n"
		"  openai:\n"
		"    base_url: http://a\n"
		"  anthropic:\n"
		"    base_url: http://b\n"
		"models:\n"
		"  gpt-4o:\n"
		"    targets:\n"
		"      - { upstream: openai }\n"
		"      - { upstream: %s }\n";
	char yaml[TEXT_LEN];

	snprintf(yaml, sizeof yaml, file, "antropic");
	ck_assert_rejected(yaml, "test.yaml:10:21: models.gpt-4o.targets[1].upstream: "
				 "no upstream named \"antropic\" (did you mean anthropic?)");
	snprintf(yaml, sizeof yaml, file, "azure");
	ck_assert_rejected(yaml, "test.yaml:10:21: models.gpt-4o.targets[1].upstream: no upstream named \"azure\"");
	ck_assert_rejected(OK_UPSTREAMS "models:\n  m:\n    targets: [ { model: x } ]\n",
			   "test.yaml:6:16: models.m.targets[0].upstream: missing (required)");
}
END_TEST

START_TEST(unset_environment_variable_is_named)
{
	unsetenv("DETOUR_TEST_UNSET");
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "    api_key_env: DETOUR_TEST_UNSET\n" OK_MODELS,
			   "test.yaml:4:18: upstreams.openai.api_key_env: environment variable DETOUR_TEST_UNSET is not set");
	setenv("DETOUR_TEST_EMPTY", " \n", 1);
	ck_assert_rejected("auth:\n  admin_token_env: DETOUR_TEST_EMPTY\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:2:20: auth.admin_token_env: environment variable DETOUR_TEST_EMPTY is empty");
}
END_TEST

START_TEST(unreadable_api_key_file_is_rejected)
{
	char yaml[TEXT_LEN], want[TEXT_LEN], empty[PATH_LEN];

	snprintf(yaml, sizeof yaml, "upstreams:\n  openai:\n    base_url: http://a\n    api_key_file: %s/nope\n" OK_MODELS,
		 tmpdir);
	snprintf(want, sizeof want, "test.yaml:4:19: upstreams.openai.api_key_file: cannot read the file named here "
		 "(not shown, in case it is a key): No such file or directory");
	ck_assert_rejected(yaml, want);

	snprintf(yaml, sizeof yaml, "upstreams:\n  openai:\n    base_url: http://a\n    api_key_file: %s\n" OK_MODELS,
		 tmpdir);
	snprintf(want, sizeof want, "test.yaml:4:19: upstreams.openai.api_key_file: cannot read the file named here "
		 "(not shown, in case it is a key): Is a directory");
	ck_assert_rejected(yaml, want);

	write_file("empty-key", "\n \n", empty, sizeof empty);
	snprintf(yaml, sizeof yaml, "upstreams:\n  openai:\n    base_url: http://a\n    api_key_file: %s\n" OK_MODELS,
		 empty);
	snprintf(want, sizeof want, "test.yaml:4:19: upstreams.openai.api_key_file: %s is empty", empty);
	ck_assert_rejected(yaml, want);
}
END_TEST

START_TEST(api_key_env_and_api_key_file_together_are_rejected)
{
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "    api_key_env: OPENAI_API_KEY\n"
			   "    api_key_file: /etc/detour/openai-key\n" OK_MODELS,
			   "test.yaml:5:5: upstreams.openai.api_key_file: api_key_env and api_key_file cannot both be set");
	ck_assert_rejected("auth:\n"
			   "  admin_token_file: /etc/detour/admin-token\n"
			   "  admin_token_env: DETOUR_ADMIN_TOKEN\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:3:3: auth.admin_token_env: admin_token_env and admin_token_file cannot both be set");
}
END_TEST

struct listen_case {
	const char *yaml;
	const char *message;
};

static const struct listen_case bad_listens[] = {
	{ "localhost", "test.yaml:2:11: server.listen: \"localhost\" is not host:port" },
	{ "\"::1:8080\"", "test.yaml:2:11: server.listen: \"::1:8080\" is not host:port "
		          "(an IPv6 address goes in brackets: \"[::1]:8080\")" },
	{ "127.0.0.1:0", "test.yaml:2:11: server.listen: \"127.0.0.1:0\" needs a port 1..65535" },
	{ "127.0.0.1:65536", "test.yaml:2:11: server.listen: \"127.0.0.1:65536\" needs a port 1..65535" },
	{ "127.0.0.1:http", "test.yaml:2:11: server.listen: \"127.0.0.1:http\" needs a port 1..65535" },
	{ "\"127.0.0.1:\"", "test.yaml:2:11: server.listen: \"127.0.0.1:\" needs a port 1..65535" },
	{ ":8080", "test.yaml:2:11: server.listen: \":8080\" has no host (0.0.0.0 listens on every address)" },
	{ "\"[::1]8080\"", "test.yaml:2:11: server.listen: \"[::1]8080\" is not [address]:port" },
	{ "\"[::1\"", "test.yaml:2:11: server.listen: \"[::1\" is not [address]:port" },
	{ "\"[]:80\"", "test.yaml:2:11: server.listen: \"[]:80\" has no host (0.0.0.0 listens on every address)" },
	{ "\"my host:80\"", "test.yaml:2:11: server.listen: \"my host:80\" is not host:port" },
	{ "8080", "test.yaml:2:11: server.listen: \"8080\" is not host:port" },
	/* Unquoted, [::1]:8080 is a YAML flow sequence followed by junk. */
	{ "[::1]:8080", "test.yaml:2:12: did not find expected node content (while parsing a flow node at 2:12); "
			"an IPv6 address must be quoted, as in listen: \"[::1]:8080\"" },
	{ "[ \"::1\", 80 ]", "test.yaml:2:11: server.listen: expected a string, found a sequence "
			      "(quote an IPv6 address: \"[::1]:8080\")" },
};

START_TEST(bad_listen_address_is_rejected)
{
	char yaml[TEXT_LEN];

	snprintf(yaml, sizeof yaml, "server:\n  listen: %s\n" OK_UPSTREAMS OK_MODELS, bad_listens[_i].yaml);
	ck_assert_rejected(yaml, bad_listens[_i].message);
}
END_TEST

START_TEST(bad_provider_is_rejected)
{
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "    provider: azure\n" OK_MODELS,
			   "test.yaml:4:15: upstreams.openai.provider: \"azure\" is not one of openai, anthropic");
}
END_TEST

START_TEST(bad_base_url_is_rejected)
{
	ck_assert_rejected("upstreams:\n  openai:\n    base_url: ftp://a\n" OK_MODELS,
			   "test.yaml:3:15: upstreams.openai.base_url: \"ftp://a\" is not an http:// or https:// URL");
	ck_assert_rejected("upstreams:\n  openai:\n    base_url: https:///\n" OK_MODELS,
			   "test.yaml:3:15: upstreams.openai.base_url: \"https:///\" is not an http:// or https:// URL");
	ck_assert_rejected("upstreams:\n  openai:\n    base_url: \"http://a b\"\n" OK_MODELS,
			   "test.yaml:3:15: upstreams.openai.base_url: \"http://a b\" must not hold spaces or control characters");
	ck_assert_rejected("upstreams:\n  openai:\n    provider: openai\n" OK_MODELS,
			   "test.yaml:2:3: upstreams.openai.base_url: missing (required)");
	ck_assert_rejected("upstreams:\n  openai:\n" OK_MODELS,
			   "test.yaml:2:3: upstreams.openai.base_url: missing (required)");
	ck_assert_rejected("upstreams:\n  openai:\n    base_url:\n" OK_MODELS,
			   "test.yaml:3:5: upstreams.openai.base_url: empty (a value is required)");
}
END_TEST

/* Credentials in a base_url would sit in the file and in every message that quotes it: refused, never echoed. */
START_TEST(responses_native_on_an_anthropic_upstream_is_refused)
{
	ck_assert_str_eq(load_err("upstreams:\n  claude:\n    provider: anthropic\n    base_url: http://a.test/v1\n"
				  "    responses: native\n" OK_MODELS),
			 "test.yaml:5:16: upstreams.claude.responses: native needs an upstream that speaks the Responses "
			 "API (provider: openai); an anthropic upstream serves it translated (responses: chat)");
}
END_TEST

START_TEST(base_url_with_credentials_is_refused_without_echo)
{
	static const char *const urls[] = {
		"https://alice:s3cr3t-pw@api.example.com/v1",
		"https://sk-proj-0123456789@api.example.com",
		"http://s3cr3t-pw@127.0.0.1:8080/v1?x=1",
		"ftp://alice:s3cr3t-pw@host",
		"\"https://alice:s3cr3t pw@host/v1\"",
	};
	char yaml[TEXT_LEN];

	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		const char *message;

		snprintf(yaml, sizeof yaml, "upstreams:\n  openai:\n    base_url: %s\n" OK_MODELS, urls[i]);
		message = load_err(yaml);
		ck_assert_str_eq(message, "test.yaml:3:15: upstreams.openai.base_url: must not hold credentials "
				 "(user:password@); give the key with api_key_env or api_key_file");
		ck_assert_ptr_null(strstr(message, "s3cr3t"));
		ck_assert_ptr_null(strstr(message, "alice"));
		ck_assert_ptr_null(strstr(message, "sk-proj"));
	}
	/* An '@' after the host (a path or a query) is not userinfo. */
	config_free(load_ok("upstreams:\n  openai:\n    base_url: https://host/v1/@team\n" OK_MODELS));
	config_free(load_ok("upstreams:\n  openai:\n    base_url: https://host?who=a@b\n" OK_MODELS));
}
END_TEST

START_TEST(bad_upstream_name_is_rejected)
{
	ck_assert_rejected("upstreams:\n  \"my upstream\": { base_url: \"http://a\" }\n" OK_MODELS,
			   "test.yaml:2:3: upstreams.my upstream: an upstream name is 1 to 64 letters, digits, "
			   "'.', '_' or '-'");
}
END_TEST

START_TEST(forward_headers_replace_the_default_list_and_empty_forwards_none)
{
	struct config *cfg = load_ok("upstreams:\n"
				     "  a: { base_url: http://a, forward_headers: [OpenAI-Beta, X-Custom] }\n"
				     "  b: { base_url: http://b, forward_headers: [] }\n"
				     "  c: { base_url: http://c }\n" OK_MODELS_ABC);

	ck_assert(cfg->upstreams[0].forward_set);
	ck_assert_uint_eq(cfg->upstreams[0].nforward_headers, 2);
	ck_assert_str_eq(cfg->upstreams[0].forward_headers[1], "X-Custom");
	ck_assert_ptr_null(cfg->upstreams[0].forward_headers[2]);
	ck_assert(cfg->upstreams[1].forward_set);
	ck_assert_uint_eq(cfg->upstreams[1].nforward_headers, 0);
	ck_assert_ptr_null(cfg->upstreams[1].forward_headers[0]);
	ck_assert(!cfg->upstreams[2].forward_set);
	config_free(cfg);
}
END_TEST

static bool rejected_with(const char *yaml, const char *words)
{
	return strstr(load_err(yaml), words) != NULL;
}

START_TEST(forward_headers_never_name_a_key_a_hop_header_or_a_non_token)
{
	ck_assert_msg(rejected_with("upstreams:\n  openai: { base_url: http://a, forward_headers: [OpenAI-Beta, authorization] }\n"
				    OK_MODELS, "forward_headers[1]: \"authorization\" is a header detour writes itself"),
		      "%s", errbuf);
	ck_assert_msg(rejected_with("upstreams:\n  openai: { base_url: http://a, forward_headers: [Keep-Alive] }\n"
				    OK_MODELS, "belongs to one hop"), "%s", errbuf);
	ck_assert_msg(rejected_with("upstreams:\n  openai: { base_url: http://a, forward_headers: [\"X Evil\"] }\n"
				    OK_MODELS, "\"X Evil\" is not a header name"), "%s", errbuf);
	ck_assert_msg(rejected_with("upstreams:\n  openai: { base_url: http://a, forward_headers: [a, A] }\n"
				    OK_MODELS, "forward_headers[1]: \"A\" is listed twice"), "%s", errbuf);
	ck_assert_msg(rejected_with("upstreams:\n  openai: { base_url: http://a, forward_headers: "
				    "[a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q] }\n" OK_MODELS, "lists 17 headers; at most 16"),
		      "%s", errbuf);
	ck_assert_msg(rejected_with("upstreams:\n  openai: { base_url: http://a, forward_headers: OpenAI-Beta }\n"
				    OK_MODELS, "expected a sequence"), "%s", errbuf);
}
END_TEST

START_TEST(bad_fallback_on_item_is_rejected)
{
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "fallback_on: [connect, 50x]\n",
			   "test.yaml:7:24: fallback_on[1]: \"50x\" is not connect, timeout, protocol, 4xx, 5xx "
			   "or a status 100..599");
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "fallback_on:\n  - 429\n  - 600\n",
			   "test.yaml:9:5: fallback_on[1]: \"600\" is not connect, timeout, protocol, 4xx, 5xx "
			   "or a status 100..599");
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "fallback_on: 5xx\n",
			   "test.yaml:7:14: fallback_on: expected a sequence, found a string");
}
END_TEST

START_TEST(bad_degradation_mode_is_rejected)
{
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "degradation:\n  mode: degraded\n",
			   "test.yaml:8:9: degradation.mode: \"degraded\" is not one of auto, full, reduced, "
			   "minimal, cached, offline");
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "degradation:\n  mode: offline\n",
			   "test.yaml:8:9: degradation.mode: offline needs an offline_message");
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "degradation:\n  mode: cached\n  cache: { entries: 0 }\n",
			   "test.yaml:8:9: degradation.mode: cached needs a cache (cache.entries above 0)");
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "degradation:\n  minimal: { drop: [tools, images] }\n",
			   "test.yaml:8:28: degradation.minimal.drop[1]: \"images\" is not one of tools, stream");
}
END_TEST

START_TEST(yaml_syntax_error_uses_libyaml_problem_and_mark)
{
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "   models: x\n",
			   "test.yaml:4:4: did not find expected key (while parsing a block mapping at 2:3)");
	ck_assert_rejected(OK_UPSTREAMS "models:\n  m:\n    targets: [ { upstream: openai }\n",
			   "test.yaml:7:1: did not find expected ',' or ']' (while parsing a flow sequence at 6:14)");
	ck_assert_rejected("upstreams:\n  open\xff" "ai:\n", "test.yaml:2:7: invalid leading UTF-8 octet");
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "---\nserver: {}\n",
			   "test.yaml:8:1: only one YAML document is allowed");
}
END_TEST

START_TEST(duplicate_key_is_rejected_with_both_positions)
{
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "    base_url: http://b\n" OK_MODELS,
			   "test.yaml:4:5: upstreams.openai.base_url: duplicate key (first at 3:5)");
	ck_assert_rejected("upstreams:\n"
			   "  openai:\n"
			   "    base_url: http://a\n"
			   "  openai:\n"
			   "    base_url: http://b\n" OK_MODELS,
			   "test.yaml:4:3: upstreams.openai: duplicate key (first at 2:3)");
	ck_assert_rejected(OK_UPSTREAMS OK_MODELS "upstreams: {}\n",
			   "test.yaml:7:1: upstreams: duplicate key (first at 1:1)");
}
END_TEST

START_TEST(wrong_node_type_is_rejected)
{
	ck_assert_rejected("hello\n", "test.yaml:1:1: expected a mapping, found a string");
	ck_assert_rejected("- a\n- b\n", "test.yaml:1:1: expected a mapping, found a sequence");
	ck_assert_rejected("upstreams: [a, b]\n", "test.yaml:1:12: upstreams: expected a mapping, found a sequence");
	ck_assert_rejected("upstreams:\n  openai: http://a\n", "test.yaml:2:11: upstreams.openai: expected a mapping, found a string");
	ck_assert_rejected(OK_UPSTREAMS "models:\n  m: { targets: { upstream: openai } }\n",
			   "test.yaml:5:17: models.m.targets: expected a sequence, found a mapping");
	ck_assert_rejected(OK_UPSTREAMS "models:\n  m: { targets: [ openai ] }\n",
			   "test.yaml:5:19: models.m.targets[0]: expected a mapping, found a string");
	ck_assert_rejected("server: { listen: { host: x } }\n" OK_UPSTREAMS OK_MODELS,
			   "test.yaml:1:19: server.listen: expected a string, found a mapping");
	ck_assert_rejected("{ [a]: 1 }\n", "test.yaml:1:3: a key must be a string, found a sequence");
	ck_assert_rejected("upstreams:\n  a: &d { base_url: \"http://a\" }\n  b: { <<: *d }\n" OK_MODELS,
			   "test.yaml:3:8: upstreams.b.<<: YAML merge keys are not supported; write the keys out");
	ck_assert_rejected(OK_UPSTREAMS "models:\n  \"a\\tb\": { targets: [] }\n",
			   "test.yaml:5:3: models.a?b: a model name must be one line, without control characters");
}
END_TEST

START_TEST(empty_targets_are_rejected)
{
	ck_assert_rejected(OK_UPSTREAMS "models:\n  gpt-4o:\n    targets: []\n",
			   "test.yaml:6:14: models.gpt-4o.targets: must list at least one target");
	ck_assert_rejected(OK_UPSTREAMS "models:\n  gpt-4o:\n    strategy: fallback\n",
			   "test.yaml:5:3: models.gpt-4o.targets: missing (required)");
	ck_assert_rejected(OK_UPSTREAMS "models:\n  gpt-4o:\n",
			   "test.yaml:5:3: models.gpt-4o.targets: missing (required)");
}
END_TEST

START_TEST(no_upstreams_are_rejected)
{
	ck_assert_rejected(OK_MODELS, "test.yaml:1:1: upstreams: at least one upstream is required");
	ck_assert_rejected("upstreams: {}\n" OK_MODELS, "test.yaml:1:12: upstreams: at least one upstream is required");
	ck_assert_rejected("upstreams:\n" OK_MODELS, "test.yaml:1:1: upstreams: at least one upstream is required");
}
END_TEST

START_TEST(no_models_are_rejected)
{
	ck_assert_rejected(OK_UPSTREAMS, "test.yaml:1:1: models: at least one route is required (\"*\" takes every model)");
	ck_assert_rejected(OK_UPSTREAMS "models: {}\n",
			   "test.yaml:4:9: models: at least one route is required (\"*\" takes every model)");
}
END_TEST

START_TEST(weighted_route_with_every_weight_zero_is_rejected)
{
	ck_assert_rejected(OK_UPSTREAMS
			   "models:\n"
			   "  m:\n"
			   "    strategy: weighted\n"
			   "    targets:\n"
			   "      - { upstream: openai, weight: 0 }\n"
			   "      - { upstream: openai, weight: 0 }\n",
			   "test.yaml:8:7: models.m.targets: a weighted route needs a target with a weight above 0");
	ck_assert_rejected(OK_UPSTREAMS
			   "models:\n"
			   "  m:\n"
			   "    strategy: weighted\n"
			   "    targets: [ { upstream: openai } ]\n"
			   "    reduced: [ { upstream: openai, weight: 0 } ]\n",
			   "test.yaml:8:14: models.m.reduced: a weighted route needs a target with a weight above 0");
}
END_TEST

START_TEST(retry_and_health_check_limits_are_checked)
{
	ck_assert_rejected("upstreams:\n  openai:\n    base_url: http://a\n"
			   "    retries: { base_delay: 2s, max_delay: 1s }\n" OK_MODELS,
			   "test.yaml:4:43: upstreams.openai.retries.max_delay: max_delay (1000ms) must not be below "
			   "base_delay (2000ms)");
	ck_assert_rejected("upstreams:\n  openai:\n    base_url: http://a\n"
			   "    retries: { base_delay: 10s }\n" OK_MODELS,
			   "test.yaml:4:28: upstreams.openai.retries.base_delay: max_delay (5000ms) must not be below "
			   "base_delay (10000ms)");
	ck_assert_rejected("upstreams:\n  openai:\n    base_url: http://a\n"
			   "    health_check: { timeout: 1s }\n" OK_MODELS,
			   "test.yaml:4:19: upstreams.openai.health_check.interval: missing (required)");
	ck_assert_rejected("upstreams:\n  openai:\n    base_url: http://a\n"
			   "    health_check: { interval: 50ms }\n" OK_MODELS,
			   "test.yaml:4:31: upstreams.openai.health_check.interval: must be at least 100ms");
}
END_TEST

START_TEST(health_check_off_turns_the_default_checks_off)
{
	struct config *cfg = load_ok("upstreams:\n"
				     "  a: { base_url: http://a, health_check: off }\n"
				     "  b: { base_url: http://b }\n"
				     "models:\n"
				     "  \"*\":\n"
				     "    targets: [ { upstream: a }, { upstream: b } ]\n");

	ck_assert(cfg->upstreams[0].health_check.off);
	ck_assert(!cfg->upstreams[0].health_check.enabled);
	ck_assert(!cfg->upstreams[1].health_check.off); /* absent: checks while not closed */
	ck_assert(!cfg->upstreams[1].health_check.enabled);
	ck_assert_uint_eq(cfg->upstreams[1].health_check.timeout_ms, 5000);
	config_free(cfg);
	ck_assert_rejected("upstreams:\n  openai:\n    base_url: http://a\n"
			   "    health_check: on\n" OK_MODELS,
			   "test.yaml:4:19: upstreams.openai.health_check: expected a mapping or off, found \"on\"");
}
END_TEST

START_TEST(client_keys_file_without_keys_is_rejected)
{
	char keys[PATH_LEN], yaml[TEXT_LEN], want[TEXT_LEN];

	write_file("keys", "# all keys revoked\n\n", keys, sizeof keys);
	snprintf(yaml, sizeof yaml, "auth:\n  client_keys_file: %s\n" OK_UPSTREAMS OK_MODELS, keys);
	snprintf(want, sizeof want, "test.yaml:2:21: auth.client_keys_file: %s holds no keys", keys);
	ck_assert_rejected(yaml, want);

	snprintf(yaml, sizeof yaml, "auth:\n  client_keys_file: %s/absent\n" OK_UPSTREAMS OK_MODELS, tmpdir);
	/* A file of many keys is named when it cannot be read (issue 16, point 10). */
	snprintf(want, sizeof want, "test.yaml:2:21: auth.client_keys_file: cannot read the client keys file "
		 "\"%s/absent\": No such file or directory", tmpdir);
	ck_assert_rejected(yaml, want);
}
END_TEST

/* ---- secrets -------------------------------------------------------------- */

static const char *const secrets[] = {
	"admin-secret-0001", "sk-secret-0002", "ck-secret-0003", "ck-secret-0004", "file-secret-0005",
	"sk-proj-pasted-0006", "gsk_pasted0007abcdef", "line-secret-0008", "two-line-secret-0009",
};

static void assert_no_secret(const char *message)
{
	ck_assert_msg(message[0] != '\0', "no message");
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		ck_assert_msg(strstr(message, secrets[i]) == NULL, "%s leaked in: %s", secrets[i], message);
}

START_TEST(secrets_never_appear_in_messages)
{
	char keys[PATH_LEN], badkeys[PATH_LEN], token[PATH_LEN], twolines[PATH_LEN], yaml[TEXT_LEN];

	setenv("DETOUR_TEST_ADMIN", "admin-secret-0001", 1);
	setenv("DETOUR_TEST_OPENAI", "sk-secret-0002", 1);
	setenv("DETOUR_TEST_TWO_LINES", "line-secret-0008\nline-secret-0008", 1);
	write_file("keys", "ck-secret-0003\nck-secret-0004\n", keys, sizeof keys);
	write_file("bad-keys", "ck-secret-0003\nck-secret-0004 ck-secret-0003\n", badkeys, sizeof badkeys);
	write_file("token", "file-secret-0005\n", token, sizeof token);
	write_file("two-lines", "two-line-secret-0009\ntwo-line-secret-0009\n", twolines, sizeof twolines);

	/* Every secret read, then a mistake at the end. */
	snprintf(yaml, sizeof yaml,
		 "auth: { client_keys_file: %s, admin_token_env: DETOUR_TEST_ADMIN }\n"
		 "upstreams:\n"
		 "  openai: { base_url: \"http://a\", api_key_env: DETOUR_TEST_OPENAI }\n"
		 "  other: { base_url: \"http://b\", api_key_file: %s }\n"
		 OK_MODELS "degradation: { mode: turbo }\n", keys, token);
	assert_no_secret(load_err(yaml));

	/* A mistake beside each secret. */
	snprintf(yaml, sizeof yaml, "auth: { client_keys_file: %s }\n" OK_UPSTREAMS OK_MODELS, badkeys);
	assert_no_secret(load_err(yaml));
	ck_assert(strstr(errbuf, "line 2: a key must not hold spaces or control characters") != NULL);
	snprintf(yaml, sizeof yaml, "auth: { admin_token_env: DETOUR_TEST_ADMIN, admin_token_file: %s }\n"
		 OK_UPSTREAMS OK_MODELS, token);
	assert_no_secret(load_err(yaml));
	assert_no_secret(load_err("auth: { admin_token_env: DETOUR_TEST_TWO_LINES }\n" OK_UPSTREAMS OK_MODELS));
	snprintf(yaml, sizeof yaml, "auth: { admin_token_file: %s }\n" OK_UPSTREAMS OK_MODELS, twolines);
	assert_no_secret(load_err(yaml));
	assert_no_secret(load_err("upstreams:\n  openai: { base_url: \"http://a\", api_key_env: DETOUR_TEST_OPENAI, "
				  "api_key: sk-secret-0002 }\n" OK_MODELS));

	/* A key pasted where a variable name belongs is not echoed either. */
	unsetenv("gsk_pasted0007abcdef");
	assert_no_secret(load_err("upstreams:\n  openai: { base_url: \"http://a\", api_key_env: sk-proj-pasted-0006 }\n"
				  OK_MODELS));
	ck_assert_str_eq(errbuf, "test.yaml:2:48: upstreams.openai.api_key_env: not an environment variable name "
				 "(letters, digits, _; not shown, in case it is a key)");
	assert_no_secret(load_err("upstreams:\n  openai: { base_url: \"http://a\", api_key_env: gsk_pasted0007abcdef }\n"
				  OK_MODELS));
	ck_assert_str_eq(errbuf, "test.yaml:2:48: upstreams.openai.api_key_env: the environment variable named "
				 "here is not set");
}
END_TEST

START_TEST(secret_with_a_line_break_is_rejected)
{
	setenv("DETOUR_TEST_TWO_LINES", "abc\r\nX-Injected: 1", 1);
	ck_assert_rejected("upstreams:\n  openai: { base_url: \"http://a\", api_key_env: DETOUR_TEST_TWO_LINES }\n"
			   OK_MODELS,
			   "test.yaml:2:48: upstreams.openai.api_key_env: environment variable DETOUR_TEST_TWO_LINES "
			   "holds more than one line or control characters");
}
END_TEST

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *good = tcase_create("good files");
	TCase *bad = tcase_create("bad files");
	TCase *secret = tcase_create("secrets");

	tcase_add_checked_fixture(good, make_tmpdir, remove_tmpdir);
	tcase_add_test(good, full_example_loads_with_every_value);
	tcase_add_test(good, minimal_file_takes_every_default);
	tcase_add_test(good, flow_style_file_with_every_section_loads);
	tcase_add_test(good, every_extension_key_is_read);
	tcase_add_test(good, empty_values_count_as_absent_keys);
	tcase_add_test(good, ipv6_listen_address_loses_its_brackets);
	tcase_add_test(good, client_keys_file_skips_comments_and_blank_lines);
	tcase_add_test(good, admin_token_file_is_trimmed);
	tcase_add_test(good, relative_secret_files_are_found_beside_the_configuration);
	tcase_add_test(good, anchors_and_aliases_are_followed);
	tcase_add_test(good, shipped_example_configuration_loads);
	tcase_add_test(good, names_of_levels_and_providers);
	suite_add_tcase(s, good);

	tcase_add_checked_fixture(bad, make_tmpdir, remove_tmpdir);
	tcase_add_test(bad, missing_file_cannot_be_opened);
	tcase_add_test(bad, file_error_names_the_file_path);
	tcase_add_test(bad, empty_file_is_rejected);
	tcase_add_test(bad, unknown_top_level_key_is_rejected_with_position);
	tcase_add_test(bad, unknown_key_in_upstream_is_rejected_with_position_and_hint);
	tcase_add_test(bad, unknown_key_in_target_is_rejected_with_position);
	tcase_add_test(bad, bad_duration_names_the_key_and_the_value);
	tcase_add_test(bad, bad_size_names_the_key_and_the_value);
	tcase_add_test(bad, bad_whole_numbers_are_rejected_with_their_range);
	tcase_add_test(bad, bad_boolean_is_rejected);
	tcase_add_test(bad, target_naming_an_undefined_upstream_is_rejected);
	tcase_add_test(bad, unset_environment_variable_is_named);
	tcase_add_test(bad, unreadable_api_key_file_is_rejected);
	tcase_add_test(bad, api_key_env_and_api_key_file_together_are_rejected);
	tcase_add_loop_test(bad, bad_listen_address_is_rejected, 0, COUNT(bad_listens));
	tcase_add_test(bad, bad_provider_is_rejected);
	tcase_add_test(bad, bad_base_url_is_rejected);
	tcase_add_test(bad, base_url_with_credentials_is_refused_without_echo);
	tcase_add_test(bad, responses_native_on_an_anthropic_upstream_is_refused);
	tcase_add_test(bad, bad_upstream_name_is_rejected);
	tcase_add_test(bad, bad_fallback_on_item_is_rejected);
	tcase_add_test(bad, forward_headers_never_name_a_key_a_hop_header_or_a_non_token);
	tcase_add_test(bad, forward_headers_replace_the_default_list_and_empty_forwards_none);
	tcase_add_test(bad, bad_degradation_mode_is_rejected);
	tcase_add_test(bad, yaml_syntax_error_uses_libyaml_problem_and_mark);
	tcase_add_test(bad, duplicate_key_is_rejected_with_both_positions);
	tcase_add_test(bad, wrong_node_type_is_rejected);
	tcase_add_test(bad, empty_targets_are_rejected);
	tcase_add_test(bad, no_upstreams_are_rejected);
	tcase_add_test(bad, no_models_are_rejected);
	tcase_add_test(bad, weighted_route_with_every_weight_zero_is_rejected);
	tcase_add_test(bad, retry_and_health_check_limits_are_checked);
	tcase_add_test(bad, health_check_off_turns_the_default_checks_off);
	tcase_add_test(bad, client_keys_file_without_keys_is_rejected);
	suite_add_tcase(s, bad);

	tcase_add_checked_fixture(secret, make_tmpdir, remove_tmpdir);
	tcase_add_test(secret, secrets_never_appear_in_messages);
	tcase_add_test(secret, secret_with_a_line_break_is_rejected);
	suite_add_tcase(s, secret);
	return s;
}

/* config_schema.c — every key of the configuration file: one table a section, with its type, limits, default and slot. */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "config_reader.h"
#include "config_routes.h"
#include "config_schema.h"
#include "config_secret.h"
#include "config_table.h"
#include "units.h"

#define CONFIG_SCHEMA_COUNT_MAX   2147483647u /* every count fits an int, for JSON and libraries */
#define CONFIG_SCHEMA_WORKERS_MAX 256u
#define CONFIG_SCHEMA_RETRIES_MAX 100u
#define CONFIG_SCHEMA_FALLBACK_MAX 64u        /* longest fallback_on word in the default list */

static const char *const config_schema_strategy_names[] = { "fallback", "weighted", NULL };
static const char *const config_schema_status_names[] = { "open", "client", "admin", NULL };
static const char *const config_schema_log_level_names[] = { "debug", "info", "warn", "error", NULL };
static const char *const config_schema_log_format_names[] = { "logfmt", "json", NULL };
static const char *const config_schema_drop_names[] = { "tools", "stream", NULL }; /* bit i is 1 << i */

/* ---- checks across keys ----------------------------------------------------- */

/* One worker per online CPU, within 1..CONFIG_SCHEMA_WORKERS_MAX. */
static unsigned config_schema_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > (long)CONFIG_SCHEMA_WORKERS_MAX ? CONFIG_SCHEMA_WORKERS_MAX : (unsigned)n;
}

/* workers 0 means one per CPU: resolved here so the daemon never sees 0. */
static int config_schema_finish_server(struct config_reader *r, const yaml_node_t *map, void *base)
{
	struct config *cfg = base;

	(void)r;
	(void)map;
	if (cfg->server.workers == 0)
		cfg->server.workers = config_schema_cpu_count();
	return 0;
}

static int config_schema_finish_retries(struct config_reader *r, const yaml_node_t *map, void *base)
{
	struct config_retries *t = base;
	yaml_node_t *v;

	if (t->max_delay_ms >= t->base_delay_ms)
		return 0;
	/* Point at whichever of the two the file sets: max_delay when both. */
	v = config_reader_get(r, map, "max_delay", NULL);
	config_reader_path_key(r, v != NULL ? "max_delay" : "base_delay");
	return config_reader_fail(r, v != NULL ? v : config_reader_get(r, map, "base_delay", NULL),
				  "max_delay (%" PRIu64 "ms) must not be below base_delay (%" PRIu64 "ms)",
				  t->max_delay_ms, t->base_delay_ms);
}

/* health_check a mapping means checks at its interval, always (the interval is
 * then required); absent, checks only while the breaker is not closed; off, none. */
static int config_schema_finish_health(struct config_reader *r, const yaml_node_t *map, void *base)
{
	struct config_health_check *h = base;

	(void)r;
	h->enabled = map != NULL;
	return 0;
}

/* responses: native forwards the Responses API as it is: only an OpenAI-compatible upstream speaks it. */
static int config_schema_finish_upstream(struct config_reader *r, const yaml_node_t *map, void *base)
{
	struct config_upstream *u = base;

	if (u->responses != CONFIG_RESPONSES_NATIVE || u->provider == CONFIG_PROVIDER_OPENAI)
		return 0;
	config_reader_path_key(r, "responses");
	return config_reader_fail(r, config_reader_get(r, map, "responses", NULL),
				  "native needs an upstream that speaks the Responses API (provider: openai); "
				  "an anthropic upstream serves it translated (responses: chat)");
}

/* A forced level must be one the configuration can serve. */
static int config_schema_finish_degradation(struct config_reader *r, const yaml_node_t *map, void *base)
{
	struct config *cfg = base;

	if (config_level_servable(cfg, cfg->degradation.mode))
		return 0;
	config_reader_path_key(r, "mode");
	return config_reader_fail(r, config_reader_get(r, map, "mode", NULL),
				  cfg->degradation.mode == CONFIG_LEVEL_OFFLINE
				  ? "offline needs an offline_message" : "cached needs a cache (cache.entries above 0)");
}

/* ---- fallback_on ------------------------------------------------------------ */

static void config_schema_fallback_set(struct config_fallback *fb, unsigned status)
{
	fb->status[status / 8] |= (uint8_t)(1u << (status % 8));
}

/* Adds one fallback_on word or status to fb; -1 when text is neither. */
static int config_schema_fallback_add(struct config_fallback *fb, const char *text)
{
	uint64_t status;

	if (strcmp(text, "connect") == 0)
		fb->connect = true;
	else if (strcmp(text, "timeout") == 0)
		fb->timeout = true;
	else if (strcmp(text, "protocol") == 0)
		fb->protocol = true;
	else if (strcmp(text, "4xx") == 0 || strcmp(text, "5xx") == 0) {
		unsigned first = (unsigned)(text[0] - '0') * 100;

		for (unsigned s = first; s < first + 100; s++)
			config_schema_fallback_set(fb, s);
	} else if (units_parse_uint(text, 599, &status) == 0 && status >= 100)
		config_schema_fallback_set(fb, (unsigned)status);
	else
		return -1;
	return 0;
}

/* The words of def, separated by ", ". */
static void config_schema_fallback_default(struct config_fallback *fb, const char *def)
{
	char word[CONFIG_SCHEMA_FALLBACK_MAX];

	for (const char *p = def; *p != '\0';) {
		size_t len = strcspn(p, ",");

		if (len < sizeof word) {
			memcpy(word, p, len);
			word[len] = '\0';
			config_schema_fallback_add(fb, word);
		}
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
}

/* fallback_on replaces the default list entirely when present. */
static int config_schema_read_fallback(struct config_reader *r, const struct config_key *key,
				       const yaml_node_t *v, const yaml_node_t *keynode,
				       const yaml_node_t *where, void *base)
{
	struct config_fallback *fb = &((struct config *)base)->fallback_on;
	char shown[CONFIG_SHOW_MAX + 16];

	(void)keynode;
	(void)where;
	memset(fb, 0, sizeof *fb);
	if (v == NULL) {
		config_schema_fallback_default(fb, key->def);
		return 0;
	}
	if (config_reader_expect(r, v, YAML_SEQUENCE_NODE) < 0)
		return -1;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = config_reader_node(r, *it);
		size_t at = config_reader_path_index(r, (size_t)(it - v->data.sequence.items.start));
		const char *text;

		if (config_reader_text(r, item, &text) < 0)
			return -1;
		if (config_schema_fallback_add(fb, text) < 0)
			return config_reader_fail(r, item,
						  "%s is not connect, timeout, protocol, 4xx, 5xx or a status 100..599",
						  config_reader_show(text, shown, sizeof shown));
		config_reader_path_leave(r, at);
	}
	return 0;
}

/* ---- forward_headers -------------------------------------------------------- */

/*
 * Headers detour writes itself (the upstream's key, its framing) or that
 * belong to one hop: a client's copy must never reach an upstream, whatever
 * the file says.
 */
static const char *const config_schema_unforwardable[] = {
	"authorization", "x-api-key", "anthropic-version", "host", "content-length", "content-type",
	"transfer-encoding", "te", "trailer", "connection", "keep-alive", "upgrade", "expect",
	"proxy-authorization", "proxy-connection", "user-agent", "cookie", NULL,
};

/* A header name is an RFC 9110 token. */
static bool config_schema_header_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return false;
	}
	return true;
}

/* Why name may not be listed, or NULL when it may (seen: the names before it). */
static const char *config_schema_forward_refusal(const char *name, char *const *seen, size_t nseen)
{
	if (strlen(name) > CONFIG_HEADER_NAME_MAX || !config_schema_header_token(name))
		return "is not a header name (letters, digits and !#$%&'*+-.^_`|~, at most "
		       CONFIG_STR(CONFIG_HEADER_NAME_MAX) " bytes)";
	for (size_t i = 0; config_schema_unforwardable[i] != NULL; i++)
		if (strcasecmp(name, config_schema_unforwardable[i]) == 0)
			return "is a header detour writes itself or one that belongs to one hop; it is never forwarded";
	for (size_t i = 0; i < nseen; i++)
		if (strcasecmp(name, seen[i]) == 0)
			return "is listed twice";
	return NULL;
}

/* forward_headers replaces the dialect's default list when present ([] forwards nothing). */
static int config_schema_read_forward(struct config_reader *r, const struct config_key *key,
				      const yaml_node_t *v, const yaml_node_t *keynode,
				      const yaml_node_t *where, void *base)
{
	struct config_upstream *u = base;
	char shown[CONFIG_SHOW_MAX + 16];
	size_t n;

	(void)key;
	(void)keynode;
	(void)where;
	if (v == NULL)
		return 0;
	if (config_reader_expect(r, v, YAML_SEQUENCE_NODE) < 0)
		return -1;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > CONFIG_MAX_FORWARD)
		return config_reader_fail(r, v, "lists %zu headers; at most " CONFIG_STR(CONFIG_MAX_FORWARD), n);
	u->forward_set = true;
	if ((u->forward_headers = calloc(n + 1, sizeof *u->forward_headers)) == NULL)
		return config_reader_oom(r, v);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = config_reader_node(r, *it);
		size_t at = config_reader_path_index(r, (size_t)(it - v->data.sequence.items.start));
		const char *text, *why;

		if (config_reader_text(r, item, &text) < 0)
			return -1;
		why = config_schema_forward_refusal(text, u->forward_headers, u->nforward_headers);
		if (why != NULL)
			return config_reader_fail(r, item, "%s %s", config_reader_show(text, shown, sizeof shown), why);
		if ((u->forward_headers[u->nforward_headers] = strdup(text)) == NULL)
			return config_reader_oom(r, item);
		u->nforward_headers++;
		config_reader_path_leave(r, at);
	}
	return 0;
}

/* ---- the tables ------------------------------------------------------------- */

#define CONFIG_SCHEMA_DURATION(st, member, least, dflt) \
	.type = CONFIG_TABLE_DURATION, CONFIG_TABLE_SLOT(st, member), .min = (least), .def = (dflt)
#define CONFIG_SCHEMA_UINT(st, member, least, most, dflt) \
	.type = CONFIG_TABLE_UINT, CONFIG_TABLE_SLOT(st, member), .min = (least), .max = (most), .def = (dflt)
#define CONFIG_SCHEMA_SIZE(st, member, least, dflt) \
	.type = CONFIG_TABLE_SIZE, CONFIG_TABLE_SLOT(st, member), .min = (least), .def = (dflt)
#define CONFIG_SCHEMA_CHOICE(st, member, names, dflt) \
	.type = CONFIG_TABLE_CHOICE, CONFIG_TABLE_SLOT(st, member), .choices = (names), .def = (dflt)
#define CONFIG_SCHEMA_BOOL(st, member, dflt) \
	.type = CONFIG_TABLE_BOOL, CONFIG_TABLE_SLOT(st, member), .def = (dflt)
#define CONFIG_SCHEMA_STRING(st, member, dflt) \
	.type = CONFIG_TABLE_STRING, CONFIG_TABLE_SLOT(st, member), .def = (dflt)
#define CONFIG_SCHEMA_SECRET(st, member, half) \
	.type = (half), CONFIG_TABLE_SLOT(st, member)

static const struct config_key config_schema_server_keys[] = {
	{ "listen", .type = CONFIG_TABLE_LISTEN, CONFIG_TABLE_SLOT(struct config, server.host),
	  .aux = offsetof(struct config, server.port), .def = "127.0.0.1:8080" },
	{ "workers", CONFIG_SCHEMA_UINT(struct config, server.workers, 0, CONFIG_SCHEMA_WORKERS_MAX, "0") },
	{ "max_body", CONFIG_SCHEMA_SIZE(struct config, server.max_body, 1, "4MiB") },
	{ "max_connections", CONFIG_SCHEMA_UINT(struct config, server.max_connections, 1,
						CONFIG_SCHEMA_COUNT_MAX, "10000") },
	{ "request_timeout", CONFIG_SCHEMA_DURATION(struct config, server.request_timeout_ms, 1, "120s") },
	{ "client_timeout", CONFIG_SCHEMA_DURATION(struct config, server.client_timeout_ms, 1, "30s") },
	{ "header_timeout", CONFIG_SCHEMA_DURATION(struct config, server.header_timeout_ms, 1, "10s") },
	{ "max_connections_per_ip", CONFIG_SCHEMA_UINT(struct config, server.max_connections_per_ip, 0,
						       CONFIG_SCHEMA_COUNT_MAX, "0") },
	{ "drain_timeout", CONFIG_SCHEMA_DURATION(struct config, server.drain_timeout_ms, 0, "10s") },
	{ "sse_heartbeat", CONFIG_SCHEMA_DURATION(struct config, server.sse_heartbeat_ms, 0, "15s") },
	{ "max_response", CONFIG_SCHEMA_SIZE(struct config, server.max_response, 1, "32MiB") },
	{ "pid_file", CONFIG_SCHEMA_STRING(struct config, server.pid_file, NULL) },
	{ "max_retry_after", CONFIG_SCHEMA_DURATION(struct config, server.max_retry_after_ms, 1, "10s") },
	{ .name = NULL },
};
static const struct config_section config_schema_server = {
	"server", config_schema_server_keys, config_schema_finish_server,
};

static const struct config_key config_schema_log_keys[] = {
	{ "level", CONFIG_SCHEMA_CHOICE(struct config, log.level, config_schema_log_level_names, "info") },
	{ "format", CONFIG_SCHEMA_CHOICE(struct config, log.format, config_schema_log_format_names, "logfmt") },
	{ "access", CONFIG_SCHEMA_BOOL(struct config, log.access, "false") },
	{ .name = NULL },
};
static const struct config_section config_schema_log = { "log", config_schema_log_keys, NULL };

static const struct config_key config_schema_auth_keys[] = {
	{ "client_keys_file", .type = CONFIG_TABLE_CUSTOM, .read = config_secret_read_client_keys },
	{ "admin_token_env", CONFIG_SCHEMA_SECRET(struct config, auth.admin_token, CONFIG_TABLE_SECRET_ENV) },
	{ "admin_token_file", CONFIG_SCHEMA_SECRET(struct config, auth.admin_token, CONFIG_TABLE_SECRET_FILE) },
	{ "status", CONFIG_SCHEMA_CHOICE(struct config, auth.status, config_schema_status_names, "open") },
	{ .name = NULL },
};
static const struct config_section config_schema_auth = { "auth", config_schema_auth_keys, NULL };

static const struct config_key config_schema_timeouts_keys[] = {
	{ "connect", CONFIG_SCHEMA_DURATION(struct config_timeouts, connect_ms, 1, "2s") },
	{ "first_byte", CONFIG_SCHEMA_DURATION(struct config_timeouts, first_byte_ms, 1, "30s") },
	{ "idle", CONFIG_SCHEMA_DURATION(struct config_timeouts, idle_ms, 1, "30s") },
	{ "total", CONFIG_SCHEMA_DURATION(struct config_timeouts, total_ms, 1, "120s") },
	{ .name = NULL },
};
static const struct config_section config_schema_timeouts = {
	"upstreams.NAME.timeouts", config_schema_timeouts_keys, NULL,
};

static const struct config_key config_schema_retries_keys[] = {
	{ "attempts", CONFIG_SCHEMA_UINT(struct config_retries, attempts, 0, CONFIG_SCHEMA_RETRIES_MAX, "1") },
	{ "base_delay", CONFIG_SCHEMA_DURATION(struct config_retries, base_delay_ms, 0, "200ms") },
	{ "max_delay", CONFIG_SCHEMA_DURATION(struct config_retries, max_delay_ms, 0, "5s") },
	{ .name = NULL },
};
static const struct config_section config_schema_retries = {
	"upstreams.NAME.retries", config_schema_retries_keys, config_schema_finish_retries,
};

static const struct config_key config_schema_breaker_keys[] = {
	{ "failures", CONFIG_SCHEMA_UINT(struct config_breaker, failures, 1, 1000, "5") },
	{ "window", CONFIG_SCHEMA_DURATION(struct config_breaker, window_ms, 1, "60s") },
	{ "cooldown", CONFIG_SCHEMA_DURATION(struct config_breaker, cooldown_ms, 1, "30s") },
	{ "half_open_probes", CONFIG_SCHEMA_UINT(struct config_breaker, half_open_probes, 1,
						 CONFIG_SCHEMA_COUNT_MAX, "1") },
	{ .name = NULL },
};
static const struct config_section config_schema_breaker = {
	"upstreams.NAME.breaker", config_schema_breaker_keys, NULL,
};

static const struct config_key config_schema_health_keys[] = {
	{ "interval", CONFIG_SCHEMA_DURATION(struct config_health_check, interval_ms, 100, NULL),
	  .flags = CONFIG_TABLE_REQUIRED },
	{ "timeout", CONFIG_SCHEMA_DURATION(struct config_health_check, timeout_ms, 1, "5s") },
	{ .name = NULL },
};
static const struct config_section config_schema_health = {
	"upstreams.NAME.health_check", config_schema_health_keys, config_schema_finish_health,
};

static const struct config_key config_schema_upstream_keys[] = {
	{ "provider", CONFIG_SCHEMA_CHOICE(struct config_upstream, provider, config_provider_names,
					   "openai") },
	{ "base_url", .type = CONFIG_TABLE_CUSTOM, .read = config_routes_read_base_url,
	  .flags = CONFIG_TABLE_REQUIRED },
	{ "api_key_env", CONFIG_SCHEMA_SECRET(struct config_upstream, api_key, CONFIG_TABLE_SECRET_ENV) },
	{ "api_key_file", CONFIG_SCHEMA_SECRET(struct config_upstream, api_key, CONFIG_TABLE_SECRET_FILE) },
	{ "timeouts", .type = CONFIG_TABLE_MAP, CONFIG_TABLE_SLOT(struct config_upstream, timeouts),
	  .section = &config_schema_timeouts },
	{ "retries", .type = CONFIG_TABLE_MAP, CONFIG_TABLE_SLOT(struct config_upstream, retries),
	  .section = &config_schema_retries },
	{ "breaker", .type = CONFIG_TABLE_MAP, CONFIG_TABLE_SLOT(struct config_upstream, breaker),
	  .section = &config_schema_breaker },
	{ "health_check", .type = CONFIG_TABLE_MAP, CONFIG_TABLE_SLOT(struct config_upstream, health_check),
	  .aux = offsetof(struct config_health_check, off), .section = &config_schema_health,
	  .flags = CONFIG_TABLE_OR_OFF },
	{ "anthropic_version", CONFIG_SCHEMA_STRING(struct config_upstream, anthropic_version, "2023-06-01") },
	{ "max_tokens", CONFIG_SCHEMA_UINT(struct config_upstream, default_max_tokens, 1,
					   CONFIG_SCHEMA_COUNT_MAX, "4096") },
	{ "forward_headers", .type = CONFIG_TABLE_CUSTOM, .read = config_schema_read_forward },
	{ "responses", CONFIG_SCHEMA_CHOICE(struct config_upstream, responses, config_responses_names, "chat") },
	{ "prefill", CONFIG_SCHEMA_CHOICE(struct config_upstream, prefill, config_prefill_names, "instruct") },
	{ .name = NULL },
};
const struct config_section config_schema_upstream = {
	"upstreams.NAME", config_schema_upstream_keys, config_schema_finish_upstream,
};

static const struct config_key config_schema_target_keys[] = {
	{ "upstream", .type = CONFIG_TABLE_CUSTOM, .read = config_routes_read_target_upstream,
	  .flags = CONFIG_TABLE_REQUIRED },
	{ "model", CONFIG_SCHEMA_STRING(struct config_target, model, NULL) },
	{ "max_tokens", CONFIG_SCHEMA_UINT(struct config_target, max_tokens, 1, CONFIG_SCHEMA_COUNT_MAX, NULL) },
	{ "weight", CONFIG_SCHEMA_UINT(struct config_target, weight, 0, CONFIG_SCHEMA_COUNT_MAX, "1") },
	{ .name = NULL },
};
const struct config_section config_schema_target = {
	"models.NAME.targets[n]", config_schema_target_keys, NULL,
};

/* A route's streams: what it leaves out comes from the top level. */
static const struct config_key config_schema_route_streams_keys[] = {
	{ "on_cut", CONFIG_SCHEMA_CHOICE(struct config_streams, on_cut, config_on_cut_names, NULL) },
	{ "max_continuations", CONFIG_SCHEMA_UINT(struct config_streams, max_continuations, 1,
						  CONFIG_SCHEMA_RETRIES_MAX, NULL) },
	{ .name = NULL },
};
static const struct config_section config_schema_route_streams = {
	"models.NAME.streams", config_schema_route_streams_keys, NULL,
};

static const struct config_key config_schema_route_keys[] = {
	{ "strategy", CONFIG_SCHEMA_CHOICE(struct config_route, strategy, config_schema_strategy_names,
					   "fallback") },
	{ "targets", .type = CONFIG_TABLE_CUSTOM, CONFIG_TABLE_SLOT(struct config_route, targets),
	  .aux = offsetof(struct config_route, ntargets), .section = &config_schema_target,
	  .read = config_routes_read_targets, .flags = CONFIG_TABLE_REQUIRED },
	{ "reduced", .type = CONFIG_TABLE_CUSTOM, CONFIG_TABLE_SLOT(struct config_route, reduced),
	  .aux = offsetof(struct config_route, nreduced), .section = &config_schema_target,
	  .read = config_routes_read_targets },
	{ "streams", .type = CONFIG_TABLE_MAP, CONFIG_TABLE_SLOT(struct config_route, streams),
	  .section = &config_schema_route_streams },
	{ .name = NULL },
};
const struct config_section config_schema_route = { "models.NAME", config_schema_route_keys, NULL };

static const struct config_key config_schema_reduced_keys[] = {
	{ "max_tokens", CONFIG_SCHEMA_UINT(struct config_level_limits, max_tokens, 0,
					   CONFIG_SCHEMA_COUNT_MAX, "2048") },
	{ "drop", .type = CONFIG_TABLE_FLAGS, CONFIG_TABLE_SLOT(struct config_level_limits, drop),
	  .choices = config_schema_drop_names, .def = "tools" },
	{ .name = NULL },
};
static const struct config_section config_schema_reduced = {
	"degradation.reduced", config_schema_reduced_keys, NULL,
};

static const struct config_key config_schema_minimal_keys[] = {
	{ "max_tokens", CONFIG_SCHEMA_UINT(struct config_level_limits, max_tokens, 0,
					   CONFIG_SCHEMA_COUNT_MAX, "512") },
	{ "drop", .type = CONFIG_TABLE_FLAGS, CONFIG_TABLE_SLOT(struct config_level_limits, drop),
	  .choices = config_schema_drop_names, .def = "tools, stream" },
	{ .name = NULL },
};
static const struct config_section config_schema_minimal = {
	"degradation.minimal", config_schema_minimal_keys, NULL,
};

static const struct config_key config_schema_cache_keys[] = {
	{ "entries", CONFIG_SCHEMA_UINT(struct config, degradation.cache.entries, 0,
					CONFIG_SCHEMA_COUNT_MAX, "10000") },
	{ "ttl", CONFIG_SCHEMA_DURATION(struct config, degradation.cache.ttl_ms, 1, "1h") },
	{ "max_bytes", CONFIG_SCHEMA_SIZE(struct config, degradation.cache.max_bytes, 1, "64MiB") },
	{ "serve_fresh", CONFIG_SCHEMA_BOOL(struct config, degradation.cache.serve_fresh, "false") },
	{ .name = NULL },
};
static const struct config_section config_schema_cache = {
	"degradation.cache", config_schema_cache_keys, NULL,
};

static const struct config_key config_schema_degradation_keys[] = {
	{ "mode", CONFIG_SCHEMA_CHOICE(struct config, degradation.mode, config_level_names, "auto") },
	{ "reduced", .type = CONFIG_TABLE_MAP, CONFIG_TABLE_SLOT(struct config, degradation.reduced),
	  .section = &config_schema_reduced },
	{ "minimal", .type = CONFIG_TABLE_MAP, CONFIG_TABLE_SLOT(struct config, degradation.minimal),
	  .section = &config_schema_minimal },
	{ "cache", .type = CONFIG_TABLE_MAP, .section = &config_schema_cache },
	{ "offline_message", CONFIG_SCHEMA_STRING(struct config, degradation.offline_message, NULL),
	  .flags = CONFIG_TABLE_MULTILINE },
	{ .name = NULL },
};
static const struct config_section config_schema_degradation = {
	"degradation", config_schema_degradation_keys, config_schema_finish_degradation,
};

static const struct config_key config_schema_store_keys[] = {
	{ "entries", CONFIG_SCHEMA_UINT(struct config, responses.store.entries, 0,
					CONFIG_SCHEMA_COUNT_MAX, "10000") },
	{ "max_bytes", CONFIG_SCHEMA_SIZE(struct config, responses.store.max_bytes, 1, "256MiB") },
	{ "ttl", CONFIG_SCHEMA_DURATION(struct config, responses.store.ttl_ms, 1, "1h") },
	{ .name = NULL },
};
static const struct config_section config_schema_store = {
	"responses.store", config_schema_store_keys, NULL,
};

static const struct config_key config_schema_responses_keys[] = {
	{ "store", .type = CONFIG_TABLE_MAP, .section = &config_schema_store },
	{ .name = NULL },
};
static const struct config_section config_schema_responses = {
	"responses", config_schema_responses_keys, NULL,
};

static const struct config_key config_schema_streams_keys[] = {
	{ "on_cut", CONFIG_SCHEMA_CHOICE(struct config, streams.on_cut, config_on_cut_names, "error") },
	{ "max_continuations", CONFIG_SCHEMA_UINT(struct config, streams.max_continuations, 1,
						  CONFIG_SCHEMA_RETRIES_MAX, "1") },
	{ "cache_continued", CONFIG_SCHEMA_BOOL(struct config, streams.cache_continued, "false") },
	{ .name = NULL },
};
static const struct config_section config_schema_streams = {
	"streams", config_schema_streams_keys, NULL,
};

/* shared.redis names a TCP server or a Unix socket; anything else is a typo to show now. */
static int config_schema_finish_shared(struct config_reader *r, const yaml_node_t *map, void *base)
{
	struct config *cfg = base;
	const char *url = cfg->shared.redis;

	if (url == NULL || strncmp(url, "redis://", 8) == 0 || (strncmp(url, "unix:", 5) == 0 && url[5] != '\0'))
		return 0;
	config_reader_path_key(r, "redis");
	return config_reader_fail(r, config_reader_get(r, map, "redis", NULL),
				  "redis must be \"redis://HOST:PORT/DB\" or \"unix:/path\"");
}

static const struct config_key config_schema_shared_keys[] = {
	{ "redis", CONFIG_SCHEMA_STRING(struct config, shared.redis, NULL) },
	{ "password_env", CONFIG_SCHEMA_SECRET(struct config, shared.password, CONFIG_TABLE_SECRET_ENV) },
	{ "password_file", CONFIG_SCHEMA_SECRET(struct config, shared.password, CONFIG_TABLE_SECRET_FILE) },
	/* NULL stands for "detour:" (state/shared.c), so a file without shared allocates nothing. */
	{ "prefix", CONFIG_SCHEMA_STRING(struct config, shared.prefix, NULL) },
	{ "timeout", CONFIG_SCHEMA_DURATION(struct config, shared.timeout_ms, 1, "50ms") },
	{ .name = NULL },
};
static const struct config_section config_schema_shared = {
	"shared", config_schema_shared_keys, config_schema_finish_shared,
};

/* The order below is the order sections are checked in: upstreams before the models that name them. */
static const struct config_key config_schema_root_keys[] = {
	{ "server", .type = CONFIG_TABLE_MAP, .section = &config_schema_server },
	{ "log", .type = CONFIG_TABLE_MAP, .section = &config_schema_log },
	{ "auth", .type = CONFIG_TABLE_MAP, .section = &config_schema_auth },
	{ "upstreams", .type = CONFIG_TABLE_CUSTOM, .section = &config_schema_upstream,
	  .read = config_routes_read_upstreams },
	{ "models", .type = CONFIG_TABLE_CUSTOM, .section = &config_schema_route,
	  .read = config_routes_read_models },
	{ "fallback_on", .type = CONFIG_TABLE_CUSTOM, CONFIG_TABLE_SLOT(struct config, fallback_on),
	  .def = "connect, timeout, protocol, 408, 409, 429, 5xx, 401, 403, 404",
	  .read = config_schema_read_fallback },
	{ "degradation", .type = CONFIG_TABLE_MAP, .section = &config_schema_degradation },
	{ "responses", .type = CONFIG_TABLE_MAP, .section = &config_schema_responses },
	{ "streams", .type = CONFIG_TABLE_MAP, .section = &config_schema_streams },
	{ "shared", .type = CONFIG_TABLE_MAP, .section = &config_schema_shared },
	{ .name = NULL },
};
const struct config_section config_schema_root = { "", config_schema_root_keys, NULL };

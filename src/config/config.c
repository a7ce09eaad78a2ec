/* config.c — the loaded configuration as a value: its names, its queries, and freeing it. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

const char *const config_provider_names[] = { "openai", "anthropic", NULL };
const char *const config_responses_names[] = { "chat", "native", NULL };
const char *const config_on_cut_names[] = { "inherit", "error", "continue", NULL };
const char *const config_prefill_names[] = { "instruct", "native", NULL };
const char *const config_level_names[] = {
	"auto", "full", "reduced", "minimal", "cached", "offline", NULL,
};

static void config_free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void config_free_targets(struct config_target *targets, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(targets[i].model);
	free(targets);
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->server.host);
	for (size_t i = 0; i < cfg->auth.nclient_keys; i++)
		config_free_secret(cfg->auth.client_keys[i]);
	free(cfg->auth.client_keys);
	config_free_secret(cfg->auth.admin_token);
	for (size_t i = 0; i < cfg->nupstreams; i++) {
		struct config_upstream *u = &cfg->upstreams[i];

		free(u->name);
		free(u->base_url);
		config_free_secret(u->api_key);
		free(u->anthropic_version);
		for (size_t j = 0; j < u->nforward_headers; j++)
			free(u->forward_headers[j]);
		free(u->forward_headers);
	}
	free(cfg->upstreams);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		free(cfg->routes[i].name);
		config_free_targets(cfg->routes[i].targets, cfg->routes[i].ntargets);
		config_free_targets(cfg->routes[i].reduced, cfg->routes[i].nreduced);
	}
	free(cfg->routes);
	free(cfg->degradation.offline_message);
	free(cfg->server.pid_file);
	free(cfg->shared.redis);
	config_free_secret(cfg->shared.password);
	free(cfg->shared.prefix);
	free(cfg);
}

bool config_level_servable(const struct config *cfg, enum config_level level)
{
	if (level == CONFIG_LEVEL_CACHED)
		return cfg->degradation.cache.entries > 0;
	if (level == CONFIG_LEVEL_OFFLINE)
		return cfg->degradation.offline_message != NULL;
	return true;
}

const struct config_upstream *config_find_upstream(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nupstreams; i++)
		if (cfg->upstreams[i].name != NULL && strcmp(cfg->upstreams[i].name, name) == 0)
			return &cfg->upstreams[i];
	return NULL;
}

bool config_fallback_status(const struct config_fallback *fb, unsigned status)
{
	return status < 600 && (fb->status[status / 8] & (1u << (status % 8))) != 0;
}

const char *config_level_name(enum config_level level)
{
	return (unsigned)level <= CONFIG_LEVEL_OFFLINE ? config_level_names[level] : "unknown";
}

const char *config_provider_name(enum config_provider provider)
{
	return (unsigned)provider <= CONFIG_PROVIDER_ANTHROPIC ? config_provider_names[provider] : "unknown";
}

struct config_streams config_route_streams(const struct config *cfg, const struct config_route *route)
{
	struct config_streams s = cfg->streams;

	if (route != NULL && route->streams.on_cut != CONFIG_ON_CUT_INHERIT)
		s.on_cut = route->streams.on_cut;
	if (route != NULL && route->streams.max_continuations != 0)
		s.max_continuations = route->streams.max_continuations;
	if (s.on_cut == CONFIG_ON_CUT_INHERIT)
		s.on_cut = CONFIG_ON_CUT_ERROR;
	return s;
}

/* upstream.c — one upstream at run time: the URLs and headers detour sends it, and the state every worker shares. */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"

static char *upstream_join(const char *base, const char *path)
{
	size_t n = strlen(base) + strlen(path) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s", base, path);
	return s;
}

static struct curl_slist *upstream_add(struct curl_slist *list, const char *line, bool *ok)
{
	struct curl_slist *next;

	if (!*ok)
		return list;
	next = curl_slist_append(list, line);
	if (next == NULL) {
		*ok = false;
		return list;
	}
	return next;
}

/* The headers that carry the upstream's own key; the client's never go out. */
static struct curl_slist *upstream_auth_headers(const struct config_upstream *cfg, struct curl_slist *list, bool *ok)
{
	char line[4096];

	if (cfg->provider == CONFIG_PROVIDER_ANTHROPIC) {
		snprintf(line, sizeof line, "anthropic-version: %s", cfg->anthropic_version);
		list = upstream_add(list, line, ok);
		if (cfg->api_key != NULL) {
			snprintf(line, sizeof line, "x-api-key: %s", cfg->api_key);
			list = upstream_add(list, line, ok);
		}
	} else if (cfg->api_key != NULL) {
		snprintf(line, sizeof line, "Authorization: Bearer %s", cfg->api_key);
		list = upstream_add(list, line, ok);
	}
	explicit_bzero(line, sizeof line);
	return list;
}

int upstream_init(struct upstream *u, const struct config_upstream *cfg, char *err, size_t errlen)
{
	bool ok = true;

	memset(u, 0, sizeof *u);
	u->cfg = cfg;
	pthread_mutex_init(&u->lock, NULL);
	u->url_chat = upstream_join(cfg->base_url, "/chat/completions");
	u->url_completions = upstream_join(cfg->base_url, "/completions");
	u->url_embeddings = upstream_join(cfg->base_url, "/embeddings");
	u->url_models = upstream_join(cfg->base_url, "/models");
	u->url_messages = upstream_join(cfg->base_url, "/messages");
	if (!u->url_chat || !u->url_completions || !u->url_embeddings || !u->url_models || !u->url_messages)
		ok = false;

	u->headers = upstream_add(NULL, "Content-Type: application/json", &ok);
	/* curl would wait for "100 Continue" before sending a larger body. */
	u->headers = upstream_add(u->headers, "Expect:", &ok);
	u->headers = upstream_add(u->headers, "User-Agent: detour/" DETOUR_VERSION, &ok);
	u->headers = upstream_auth_headers(cfg, u->headers, &ok);
	u->probe_headers = upstream_add(NULL, "User-Agent: detour/" DETOUR_VERSION, &ok);
	u->probe_headers = upstream_auth_headers(cfg, u->probe_headers, &ok);
	if (!ok) {
		snprintf(err, errlen, "upstream %s: out of memory", cfg->name);
		upstream_free(u);
		return -1;
	}
	return 0;
}

void upstream_free(struct upstream *u)
{
	free(u->url_chat);
	free(u->url_completions);
	free(u->url_embeddings);
	free(u->url_models);
	free(u->url_messages);
	curl_slist_free_all(u->headers);
	curl_slist_free_all(u->probe_headers);
	pthread_mutex_destroy(&u->lock);
	memset(u, 0, sizeof *u);
}

const char *upstream_url(const struct upstream *u, enum request_kind kind)
{
	switch (kind) {
	case REQUEST_CHAT: return u->url_chat;
	case REQUEST_COMPLETIONS: return u->url_completions;
	case REQUEST_EMBEDDINGS: return u->url_embeddings;
	}
	return u->url_chat;
}

void upstream_record(struct upstream *u, bool success, bool fault, unsigned status, const char *error)
{
	atomic_fetch_add_explicit(&u->requests, 1, memory_order_relaxed);
	if (success) {
		atomic_fetch_add_explicit(&u->successes, 1, memory_order_relaxed);
		return;
	}
	if (!fault)
		return;
	atomic_fetch_add_explicit(&u->failures, 1, memory_order_relaxed);
	pthread_mutex_lock(&u->lock);
	u->last_error.status = status;
	snprintf(u->last_error.message, sizeof u->last_error.message, "%s", error != NULL ? error : "");
	u->last_error.at_wall_ms = clock_wall_ms();
	pthread_mutex_unlock(&u->lock);
}

void upstream_last_error(struct upstream *u, struct upstream_error *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->last_error;
	pthread_mutex_unlock(&u->lock);
}

/* Replaces every occurrence of the upstream's key in s, in case an error page echoes it. */
static void upstream_redact(const struct upstream *u, char *s)
{
	const char *key = u->cfg->api_key;
	size_t klen;
	char *hit;

	if (key == NULL || (klen = strlen(key)) < 4)
		return;
	while ((hit = strstr(s, key)) != NULL) {
		memset(hit, '*', klen);
	}
}

void upstream_describe_status(const struct upstream *u, unsigned status, const char *body, size_t len,
			      char *out, size_t outlen)
{
	json_t *root = NULL, *message;
	const char *text = NULL;

	if (status == 401 || status == 403) {
		snprintf(out, outlen, "%s", status == 401 ? "authentication failed" : "permission denied");
		return;
	}
	if (body != NULL && len > 0 && len < 65536)
		root = json_loadb(body, len, 0, NULL);
	/* OpenAI: {"error":{"message":...}}; Anthropic: {"type":"error","error":{"message":...}}. */
	message = json_object_get(json_object_get(root, "error"), "message");
	if (json_is_string(message))
		text = json_string_value(message);
	else if (json_is_string(json_object_get(root, "error")))
		text = json_string_value(json_object_get(root, "error"));
	if (text != NULL && text[0] != '\0')
		snprintf(out, outlen, "%s", text);
	else
		snprintf(out, outlen, "HTTP %u", status);
	upstream_redact(u, out);
	json_decref(root);
}

/* config_routes.c — the configuration's upstreams and models: names, base URLs, routes and their targets. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config.h"
#include "config_reader.h"
#include "config_routes.h"
#include "config_table.h"

#define CONFIG_ROUTES_NAME_MAX 64u /* upstream names go into headers, URLs and metrics */

/* Letters, digits, '.', '_' and '-': an upstream name goes into headers, URLs and metric labels. */
static bool config_routes_valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CONFIG_ROUTES_NAME_MAX)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

/*
 * Whether url carries credentials: an '@' in its authority (after "scheme://",
 * or from the start without one, up to the first '/', '?' or '#').
 */
static bool config_routes_has_userinfo(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *authority = scheme != NULL ? scheme + 3 : url;
	size_t len = strcspn(authority, "/?#");

	return memchr(authority, '@', len) != NULL;
}

/*
 * "https://host/path" with the trailing slashes cut. Credentials in the URL are
 * refused without quoting it: they would sit in the file, in logs and in messages.
 */
int config_routes_read_base_url(struct config_reader *r, const struct config_key *key,
				const yaml_node_t *v, const yaml_node_t *keynode,
				const yaml_node_t *where, void *base)
{
	struct config_upstream *u = base;
	const char *text, *rest;
	char shown[CONFIG_SHOW_MAX + 16];
	size_t len;

	(void)key;
	(void)keynode;
	(void)where;
	if (config_reader_text(r, v, &text) < 0)
		return -1;
	if (config_routes_has_userinfo(text))
		return config_reader_fail(r, v, "must not hold credentials (user:password@); "
					  "give the key with api_key_env or api_key_file");
	len = strlen(text);
	while (len > 0 && text[len - 1] == '/')
		len--;
	if (strncasecmp(text, "http://", 7) == 0)
		rest = text + 7;
	else if (strncasecmp(text, "https://", 8) == 0)
		rest = text + 8;
	else
		rest = NULL;
	if (rest == NULL || rest >= text + len || *rest == '/')
		return config_reader_fail(r, v, "%s is not an http:// or https:// URL",
					  config_reader_show(text, shown, sizeof shown));
	for (const char *p = text; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return config_reader_fail(r, v, "%s must not hold spaces or control characters",
						  config_reader_show(text, shown, sizeof shown));
	free(u->base_url);
	if ((u->base_url = strndup(text, len)) == NULL)
		return config_reader_oom(r, v);
	return 0;
}

/* One upstream: its defaults, then the keys the file gives. */
static int config_routes_read_upstream(struct config_reader *r, const struct config_section *section,
				       const yaml_node_t *key, const yaml_node_t *value, size_t index,
				       struct config_upstream *u)
{
	const char *name = (const char *)key->data.scalar.value;
	size_t mark = config_reader_path_key(r, name);
	const yaml_node_t *m = config_reader_is_null(value) ? NULL : value;
	int rc = -1;

	u->index = index;
	if (config_table_defaults(section, u) < 0) {
		config_reader_oom(r, key);
		goto fail;
	}
	if (!config_routes_valid_name(name)) {
		config_reader_fail(r, key, "an upstream name is 1 to %u letters, digits, '.', '_' or '-'",
				   CONFIG_ROUTES_NAME_MAX);
		goto fail;
	}
	if ((u->name = config_reader_dup(r, key, name)) == NULL ||
	    config_table_read(r, m, key, section, u) < 0)
		goto fail;
	rc = 0;
fail:
	config_reader_path_leave(r, mark);
	return rc;
}

int config_routes_read_upstreams(struct config_reader *r, const struct config_key *key,
				 const yaml_node_t *m, const yaml_node_t *k,
				 const yaml_node_t *where, void *base)
{
	struct config *cfg = base;
	size_t n, i = 0;

	if (m == NULL)
		return config_reader_fail(r, k != NULL ? k : where, "at least one upstream is required");
	if (config_reader_expect(r, m, YAML_MAPPING_NODE) < 0 || config_table_check_keys(r, m, NULL) < 0)
		return -1;
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	if (n == 0)
		return config_reader_fail(r, m, "at least one upstream is required");
	if ((cfg->upstreams = calloc(n, sizeof *cfg->upstreams)) == NULL)
		return config_reader_oom(r, m);
	cfg->nupstreams = n;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++, i++)
		if (config_routes_read_upstream(r, key->section, config_reader_node(r, p->key),
						config_reader_node(r, p->value), i, &cfg->upstreams[i]) < 0)
			return -1;
	return 0;
}

/* The upstream a target names, with a hint when the name is a near miss. */
int config_routes_read_target_upstream(struct config_reader *r, const struct config_key *key,
				       const yaml_node_t *v, const yaml_node_t *keynode,
				       const yaml_node_t *where, void *base)
{
	struct config_target *t = base;
	const struct config *cfg = r->cfg;
	const char *text, *hint = NULL;
	char shown[CONFIG_SHOW_MAX + 16];

	(void)key;
	(void)keynode;
	(void)where;
	if (config_reader_text(r, v, &text) < 0)
		return -1;
	if ((t->upstream = config_find_upstream(cfg, text)) != NULL)
		return 0;
	for (size_t i = 0; hint == NULL && i < cfg->nupstreams; i++)
		if (config_reader_close(text, cfg->upstreams[i].name))
			hint = cfg->upstreams[i].name;
	return config_reader_fail(r, v, "no upstream named %s%s%s%s",
				  config_reader_show(text, shown, sizeof shown), hint != NULL ? " (did you mean " : "",
				  hint != NULL ? hint : "", hint != NULL ? "?)" : "");
}

/*
 * A route's targets or reduced targets into the slot of key (count right after
 * it), the count set before the targets are read, so config_free finds a
 * half-read list. A weighted list needs a weight above 0.
 */
int config_routes_read_targets(struct config_reader *r, const struct config_key *key,
			       const yaml_node_t *v, const yaml_node_t *keynode,
			       const yaml_node_t *where, void *base)
{
	struct config_route *route = base;
	struct config_target **out = (struct config_target **)((char *)base + key->offset);
	size_t *nout = (size_t *)((char *)base + key->aux);
	bool required = (key->flags & CONFIG_TABLE_REQUIRED) != 0;
	unsigned weights = 0;
	size_t n;

	(void)keynode;
	(void)where;
	if (v == NULL)
		return 0;
	if (config_reader_expect(r, v, YAML_SEQUENCE_NODE) < 0)
		return -1;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0)
		return required ? config_reader_fail(r, v, "must list at least one target") : 0;
	if (n > CONFIG_MAX_TARGETS)
		return config_reader_fail(r, v, "lists more than " CONFIG_STR(CONFIG_MAX_TARGETS) " targets");
	if ((*out = calloc(n, sizeof **out)) == NULL)
		return config_reader_oom(r, v);
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = config_reader_node(r, v->data.sequence.items.start[i]);
		struct config_target *t = &(*out)[i];
		size_t at = config_reader_path_index(r, i);

		if (config_table_defaults(key->section, t) < 0)
			return config_reader_oom(r, item);
		if (config_table_read(r, item, item, key->section, t) < 0)
			return -1;
		weights |= t->weight;
		config_reader_path_leave(r, at);
	}
	if (route->strategy == CONFIG_STRATEGY_WEIGHTED && weights == 0)
		return config_reader_fail(r, v, "a weighted route needs a target with a weight above 0");
	return 0;
}

static int config_routes_read_route(struct config_reader *r, const struct config_section *section,
				    const yaml_node_t *key, const yaml_node_t *value, struct config *cfg,
				    struct config_route *route)
{
	const char *name;
	size_t mark = r->pathlen;
	const yaml_node_t *m = config_reader_is_null(value) ? NULL : value;
	int rc = -1;

	if (config_reader_text(r, key, &name) < 0)
		goto fail;
	config_reader_path_key(r, name);
	if (*name == '\0' || config_reader_has_control(name)) {
		config_reader_fail(r, key, "a model name must be one line, without control characters");
		goto fail;
	}
	if ((route->name = config_reader_dup(r, key, name)) == NULL ||
	    config_table_defaults(section, route) < 0 ||
	    config_table_read(r, m, key, section, route) < 0)
		goto fail;
	if (strcmp(name, "*") == 0)
		cfg->catch_all = route;
	rc = 0;
fail:
	config_reader_path_leave(r, mark);
	return rc;
}

int config_routes_read_models(struct config_reader *r, const struct config_key *key,
			      const yaml_node_t *m, const yaml_node_t *k,
			      const yaml_node_t *where, void *base)
{
	struct config *cfg = base;
	size_t n, i = 0;

	(void)key;
	if (m == NULL)
		return config_reader_fail(r, k != NULL ? k : where,
					  "at least one route is required (\"*\" takes every model)");
	if (config_reader_expect(r, m, YAML_MAPPING_NODE) < 0 || config_table_check_keys(r, m, NULL) < 0)
		return -1;
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	if (n == 0)
		return config_reader_fail(r, m, "at least one route is required (\"*\" takes every model)");
	if ((cfg->routes = calloc(n, sizeof *cfg->routes)) == NULL)
		return config_reader_oom(r, m);
	cfg->nroutes = n;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++, i++)
		if (config_routes_read_route(r, key->section, config_reader_node(r, p->key),
					     config_reader_node(r, p->value), cfg, &cfg->routes[i]) < 0)
			return -1;
	return 0;
}

/* admin.c — the operator's endpoints: /health, /health/live, /circuits, /metrics, /v1/models, /v1/models/{id} and /admin/.... */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "auth.h"
#include "breaker.h"
#include "cache.h"
#include "degrade.h"
#include "log.h"
#include "clock.h"
#include "context.h"
#include "metrics.h"
#include "router.h"
#include "upstream.h"
#include "runtime.h"
#include "shared.h"

static void admin_answer_json(struct exchange *x, unsigned status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_PRESERVE_ORDER | JSON_INDENT(2));

	json_decref(doc);
	if (text == NULL) {
		exchange_answer(x, 500, NULL);
		return;
	}
	exchange_answer_json(x, status, text, strlen(text));
	if (x->response != NULL)
		MHD_add_response_header(x->response, "Cache-Control", "no-store");
}

static json_t *admin_iso(uint64_t wall_ms)
{
	char when[40];

	return wall_ms == 0 ? json_null() : json_string(clock_iso8601(wall_ms, when, sizeof when));
}

/*
 * /health: "ok" while every breaker is closed and answers are full; "degraded"
 * while a breaker is open, the level is pinned below full, or an answer in the
 * last minute was degraded; "down" (503) when nothing could answer a request:
 * no upstream admits calls (or the pinned level calls none), the cache is
 * empty, and there is no offline message.
 */
const char *admin_health_status(struct runtime *rt, uint64_t now)
{
	const struct config *cfg = rt->cfg;
	enum config_level mode = degrade_mode(&rt->degrade);
	enum config_level recent = degrade_recent_level(&rt->degrade, now);
	size_t i, cached = rt->cache != NULL ? cache_entries(rt->cache) : 0;
	bool some_open = false, some_usable = false, can_serve;

	for (i = 0; i < cfg->nupstreams; i++) {
		struct upstream_view v;

		upstream_view(&rt->upstreams[i], now, &v);
		if (v.state != BREAKER_CLOSED)
			some_open = true;
		if (v.state != BREAKER_OPEN && v.hold_until_wall_ms == 0)
			some_usable = true;
	}
	can_serve = (some_usable && degrade_calls_upstreams(degrade_first_level(mode))) ||
		    (mode != CONFIG_LEVEL_FULL && cached > 0 && mode != CONFIG_LEVEL_OFFLINE) ||
		    (mode != CONFIG_LEVEL_FULL && cfg->degradation.offline_message != NULL);
	if (!can_serve)
		return "down";
	if (some_open || degrade_first_level(mode) != CONFIG_LEVEL_FULL || recent != CONFIG_LEVEL_FULL)
		return "degraded";
	return "ok";
}

static void admin_health(struct exchange *x)
{
	struct runtime *rt = x->ctx->rt;
	const struct config *cfg = rt->cfg;
	json_t *doc = json_object(), *ups = json_object();
	uint64_t now = clock_now_ms();
	enum config_level mode = degrade_mode(&rt->degrade);
	enum config_level recent = degrade_recent_level(&rt->degrade, now);
	size_t i, cached = rt->cache != NULL ? cache_entries(rt->cache) : 0;
	const char *status = admin_health_status(rt, now);

	for (i = 0; i < cfg->nupstreams; i++) {
		struct upstream_view v;

		upstream_view(&rt->upstreams[i], now, &v);
		json_object_set_new(ups, cfg->upstreams[i].name,
				    json_pack("{s:s, s:s, s:s}", "state", breaker_state_name(v.state), "mode",
					      breaker_mode_name(v.mode), "provider",
					      config_provider_name(cfg->upstreams[i].provider)));
	}
	json_object_set_new(doc, "status", json_string(status));
	json_object_set_new(doc, "mode", json_string(config_level_name(mode)));
	json_object_set_new(doc, "level", json_string(config_level_name(
		degrade_first_level(mode) > recent ? degrade_first_level(mode) : recent)));
	json_object_set_new(doc, "cache", json_pack("{s:b, s:I}", "enabled", rt->cache != NULL, "entries",
						   (json_int_t)cached));
	json_object_set_new(doc, "offline_message", json_boolean(cfg->degradation.offline_message != NULL));
	json_object_set_new(doc, "upstreams", ups);
	/* Redis down is no reason to take this instance out: it works on its own state. */
	if (rt->shared != NULL)
		json_object_set_new(doc, "shared", json_string(shared_up(rt->shared) ? "up" : "down"));
	admin_answer_json(x, strcmp(status, "down") != 0 ? 200 : 503, doc);
}

static json_t *admin_health_check(struct upstream *u, const struct upstream_view *v)
{
	if (upstream_health_interval(u) == 0)
		return json_null();
	return json_pack("{s:I, s:b, s:o, s:o, s:o}", "interval_ms", (json_int_t)upstream_health_interval(u),
			 "always", upstream_health_always(u),
			 "last_at", admin_iso(v->health_at_wall_ms),
			 "ok", v->health_at_wall_ms == 0 ? json_null() : json_boolean(v->health_ok),
			 "error", v->health_error[0] != '\0' ? json_string(v->health_error) : json_null());
}

/* One upstream as /circuits and the admin API show it. */
static json_t *admin_circuit(struct upstream *u, const struct shared *sh, uint64_t now)
{
	struct upstream_view v;
	json_t *c = json_object();

	upstream_view(u, now, &v);
	json_object_set_new(c, "state", json_string(breaker_state_name(v.state)));
	json_object_set_new(c, "mode", json_string(breaker_mode_name(v.mode)));
	json_object_set_new(c, "provider", json_string(config_provider_name(u->cfg->provider)));
	json_object_set_new(c, "failures_in_window", json_integer(v.failures_in_window));
	json_object_set_new(c, "consecutive_failures", json_integer(v.consecutive_failures));
	json_object_set_new(c, "requests", json_integer((json_int_t)v.requests));
	json_object_set_new(c, "successes", json_integer((json_int_t)v.successes));
	json_object_set_new(c, "failures_total", json_integer((json_int_t)v.failures));
	if (v.last_error.at_wall_ms == 0)
		json_object_set_new(c, "last_error", json_null());
	else
		json_object_set_new(c, "last_error",
				    json_pack("{s:o, s:s, s:o}", "status",
					      v.last_error.status ? json_integer(v.last_error.status) : json_null(),
					      "message", v.last_error.message, "at", admin_iso(v.last_error.at_wall_ms)));
	json_object_set_new(c, "opened_at", admin_iso(v.opened_at_wall_ms));
	json_object_set_new(c, "retry_at", admin_iso(v.retry_at_wall_ms));
	json_object_set_new(c, "retry_after_until", admin_iso(v.hold_until_wall_ms));
	json_object_set_new(c, "cooldown_ms", json_integer((json_int_t)v.cooldown_ms));
	json_object_set_new(c, "probes_in_flight", json_integer(v.probes_in_flight));
	json_object_set_new(c, "health_check", admin_health_check(u, &v));
	if (sh != NULL) {
		json_object_set_new(c, "origin", json_string(v.origin[0] != '\0' ? "remote" : "local"));
		json_object_set_new(c, "origin_instance",
				    json_string(v.origin[0] != '\0' ? v.origin : shared_instance(sh)));
	}
	return c;
}

static void admin_circuits(struct exchange *x)
{
	const struct runtime *rt = x->ctx->rt;
	json_t *doc = json_object(), *list = json_object();
	uint64_t now = clock_now_ms();
	size_t i;

	for (i = 0; i < rt->cfg->nupstreams; i++)
		json_object_set_new(list, rt->cfg->upstreams[i].name, admin_circuit(&rt->upstreams[i], rt->shared, now));
	json_object_set_new(doc, "circuits", list);
	admin_answer_json(x, 200, doc);
}

static void admin_models(struct exchange *x)
{
	const struct runtime *rt = x->ctx->rt;
	json_t *doc = json_object(), *data = json_array();
	size_t i;

	for (i = 0; i < rt->cfg->nroutes; i++) {
		const struct config_route *route = &rt->cfg->routes[i];

		if (strcmp(route->name, "*") == 0)
			continue;
		json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:s}", "id", route->name, "object", "model",
						      "created", (json_int_t)(rt->started_wall_ms / 1000),
						      "owned_by", "detour"));
	}
	json_object_set_new(doc, "object", json_string("list"));
	json_object_set_new(doc, "data", data);
	admin_answer_json(x, 200, doc);
}

/* The model id of a /v1/models/{id} path into id (idlen bytes): the path
 * keeps an encoded '/' (%2F) apart from a path separator, but a model name
 * such as "meta-llama/Llama-3" arrives that way from SDKs that encode it.
 * Returns 0, or -1 when the id does not fit (no route has so long a name). */
static int admin_model_id(const char *path, char *id, size_t idlen)
{
	const char *p;
	size_t n = 0;

	for (p = path + strlen("/v1/models/"); *p != '\0' && n + 1 < idlen; p++) {
		if (p[0] == '%' && p[1] == '2' && (p[2] == 'F' || p[2] == 'f')) {
			id[n++] = '/';
			p += 2;
		} else {
			id[n++] = *p;
		}
	}
	id[n] = '\0';
	return *p == '\0' ? 0 : -1;
}

/* /v1/models/{id}: the model object of a name a route serves (the "*" route
 * serves any), else 404 model_not_found, as a chat request for it would get. */
static void admin_model(struct exchange *x)
{
	const struct runtime *rt = x->ctx->rt;
	char id[256], message[320];

	if (admin_model_id(x->path, id, sizeof id) != 0 || router_find(rt->cfg, id) == NULL) {
		snprintf(message, sizeof message, "The model `%.200s` does not exist or you do not have access to it.", id);
		exchange_answer_error(x, 404, "invalid_request_error", "model_not_found", "model", message);
		return;
	}
	admin_answer_json(x, 200, json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model", "created",
					     (json_int_t)(rt->started_wall_ms / 1000), "owned_by", "detour"));
}

static void admin_metrics(struct exchange *x)
{
	struct buf out;
	struct MHD_Response *r;
	char *text;
	size_t len;

	buf_init(&out, 16 * 1024 * 1024);
	if (runtime_render_metrics(x->ctx->rt, &out) != 0) {
		buf_free(&out);
		exchange_answer(x, 500, NULL);
		return;
	}
	text = buf_take(&out, &len);
	r = MHD_create_response_from_buffer_with_free_callback(len, text ? text : strdup(""), free);
	if (r != NULL)
		MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	exchange_answer(x, 200, r);
}

static void admin_live(struct exchange *x)
{
	static const char body[] = "{\"status\":\"live\"}";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
								 MHD_RESPMEM_PERSISTENT);

	if (r != NULL)
		MHD_add_response_header(r, "Content-Type", "application/json");
	exchange_answer(x, 200, r);
}

/* /admin/... needs the admin token; without one configured it does not exist. */
static bool admin_authorized(struct exchange *x)
{
	const struct config *cfg = x->ctx->rt->cfg;

	if (cfg->auth.admin_token == NULL) {
		exchange_answer_error(x, 404, "invalid_request_error", "unknown_url", NULL,
				      "The admin API is off: no admin token is configured.");
		return false;
	}
	if (!auth_admin_allowed(cfg, MHD_lookup_connection_value(x->connection, MHD_HEADER_KIND,
								 MHD_HTTP_HEADER_AUTHORIZATION))) {
		exchange_answer_error(x, 401, "invalid_request_error", "invalid_admin_token", NULL,
				      "The admin API needs the admin token as a bearer token.");
		if (x->response != NULL)
			MHD_add_response_header(x->response, "WWW-Authenticate", "Bearer");
		return false;
	}
	return true;
}

/*
 * /circuits and /metrics under auth.status: open to anyone, to a client key
 * or the admin token (client), or to the admin token only (admin). They name
 * upstreams and show traffic, which an operator may not want public.
 */
static bool admin_status_allowed(struct exchange *x)
{
	const struct config *cfg = x->ctx->rt->cfg;
	const char *authorization;
	bool allowed;

	if (cfg->auth.status == CONFIG_STATUS_OPEN)
		return true;
	authorization = MHD_lookup_connection_value(x->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	allowed = auth_admin_allowed(cfg, authorization);
	/* With no client keys configured, client auth lets anyone in; a status page needs a real key. */
	if (!allowed && cfg->auth.status == CONFIG_STATUS_CLIENT && cfg->auth.client_keys != NULL)
		allowed = auth_client_allowed(cfg, authorization);
	if (allowed)
		return true;
	exchange_answer_error(x, 401, "invalid_request_error", "invalid_api_key", NULL,
			      cfg->auth.status == CONFIG_STATUS_CLIENT
				      ? "This status page needs a client key or the admin token as a bearer token."
				      : "This status page needs the admin token as a bearer token.");
	if (x->response != NULL)
		MHD_add_response_header(x->response, "WWW-Authenticate", "Bearer");
	return false;
}

bool admin_wants_body(enum exchange_endpoint ep)
{
	return ep == EXCHANGE_ADMIN_CIRCUIT || ep == EXCHANGE_ADMIN_DEGRADATION;
}

bool admin_begin(struct exchange *x)
{
	switch (x->endpoint) {
	case EXCHANGE_HEALTH: admin_health(x); return true;
	case EXCHANGE_HEALTH_LIVE: admin_live(x); return true;
	case EXCHANGE_CIRCUITS:
		if (admin_status_allowed(x))
			admin_circuits(x);
		return true;
	case EXCHANGE_METRICS:
		if (admin_status_allowed(x))
			admin_metrics(x);
		return true;
	case EXCHANGE_MODELS: admin_models(x); return true;
	case EXCHANGE_MODEL: admin_model(x); return true;
	case EXCHANGE_ADMIN_CIRCUIT:
	case EXCHANGE_ADMIN_DEGRADATION:
		return !admin_authorized(x);
	default:
		return false;
	}
}

/* The JSON object of an admin body, or NULL after answering 400. */
static json_t *admin_read_body(struct exchange *x)
{
	json_t *doc = json_loadb(x->body.data != NULL ? x->body.data : "", x->body.len, 0, NULL);

	if (!json_is_object(doc)) {
		json_decref(doc);
		exchange_answer_error(x, 400, "invalid_request_error", "invalid_json", NULL,
				      "The body must be a JSON object.");
		return NULL;
	}
	return doc;
}

/* POST /admin/circuits/NAME {"state":"open"|"closed"|"auto"} */
static void admin_set_circuit(struct exchange *x)
{
	const struct runtime *rt = x->ctx->rt;
	const char *name = x->path + strlen("/admin/circuits/");
	const struct config_upstream *ucfg = config_find_upstream(rt->cfg, name);
	json_t *doc;
	const char *state;
	enum breaker_mode mode;
	char message[200];

	if (ucfg == NULL) {
		snprintf(message, sizeof message, "No upstream named \"%.100s\".", name);
		exchange_answer_error(x, 404, "invalid_request_error", "upstream_not_found", NULL, message);
		return;
	}
	doc = admin_read_body(x);
	if (doc == NULL)
		return;
	state = json_string_value(json_object_get(doc, "state"));
	if (state != NULL && strcmp(state, "open") == 0)
		mode = BREAKER_FORCED_OPEN;
	else if (state != NULL && strcmp(state, "closed") == 0)
		mode = BREAKER_FORCED_CLOSED;
	else if (state != NULL && strcmp(state, "auto") == 0)
		mode = BREAKER_AUTO;
	else {
		json_decref(doc);
		exchange_answer_error(x, 400, "invalid_request_error", "invalid_value", "state",
				      "\"state\" must be \"open\", \"closed\" or \"auto\".");
		return;
	}
	json_decref(doc);
	upstream_set_mode(runtime_upstream(rt, ucfg), mode, clock_now_ms());
	doc = json_object();
	json_object_set_new(doc, name, admin_circuit(runtime_upstream(rt, ucfg), rt->shared, clock_now_ms()));
	admin_answer_json(x, 200, json_pack("{s:o}", "circuits", doc));
}

/* POST /admin/degradation {"level":"auto"|"full"|"reduced"|"minimal"|"cached"|"offline"} */
static void admin_set_degradation(struct exchange *x)
{
	struct runtime *rt = x->ctx->rt;
	json_t *doc = admin_read_body(x);
	const char *name;
	enum config_level level;

	if (doc == NULL)
		return;
	name = json_string_value(json_object_get(doc, "level"));
	if (name == NULL || degrade_parse_level(name, &level) != 0) {
		exchange_answer_error(x, 400, "invalid_request_error", "invalid_value", "level",
				      "\"level\" must be one of auto, full, reduced, minimal, cached, offline.");
	} else if (!config_level_servable(rt->cfg, level)) {
		exchange_answer_error(x, 400, "invalid_request_error", "invalid_value", "level",
				      level == CONFIG_LEVEL_CACHED
					      ? "The cache is off (degradation.cache.entries is 0): \"cached\" cannot answer."
					      : "No degradation.offline_message is configured: \"offline\" cannot answer.");
	} else {
		degrade_set_mode(&rt->degrade, level);
		shared_tell_degradation(rt->shared, level);
		log_warn("degradation set by an operator", LOG_STR("level_pinned", config_level_name(level)));
		admin_answer_json(x, 200, json_pack("{s:s}", "mode", config_level_name(level)));
	}
	json_decref(doc);
}

void admin_body(struct exchange *x)
{
	if (x->endpoint == EXCHANGE_ADMIN_CIRCUIT)
		admin_set_circuit(x);
	else
		admin_set_degradation(x);
}

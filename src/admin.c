/* admin.c — the operator's endpoints: /health, /health/live, /circuits, /metrics, /v1/models and /admin/.... */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "auth.h"
#include "clock.h"
#include "metrics.h"
#include "upstream.h"
#include "worker.h"

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

static json_t *admin_upstream_summary(struct upstream *u)
{
	return json_pack("{s:s, s:s}", "state", "closed", "provider", config_provider_name(u->cfg->provider));
}

static void admin_health(struct exchange *x)
{
	const struct runtime *rt = x->worker->rt;
	json_t *doc = json_object(), *ups = json_object();
	size_t i;

	json_object_set_new(doc, "status", json_string("ok"));
	json_object_set_new(doc, "level", json_string("full"));
	for (i = 0; i < rt->cfg->nupstreams; i++)
		json_object_set_new(ups, rt->cfg->upstreams[i].name, admin_upstream_summary(&rt->upstreams[i]));
	json_object_set_new(doc, "upstreams", ups);
	admin_answer_json(x, 200, doc);
}

static json_t *admin_circuit(struct upstream *u)
{
	struct upstream_error last;
	json_t *c = json_object();

	upstream_last_error(u, &last);
	json_object_set_new(c, "state", json_string("closed"));
	json_object_set_new(c, "provider", json_string(config_provider_name(u->cfg->provider)));
	json_object_set_new(c, "requests", json_integer((json_int_t)atomic_load(&u->requests)));
	json_object_set_new(c, "successes", json_integer((json_int_t)atomic_load(&u->successes)));
	json_object_set_new(c, "failures_total", json_integer((json_int_t)atomic_load(&u->failures)));
	if (last.at_wall_ms == 0)
		json_object_set_new(c, "last_error", json_null());
	else
		json_object_set_new(c, "last_error",
				    json_pack("{s:o, s:s, s:o}", "status",
					      last.status ? json_integer(last.status) : json_null(), "message",
					      last.message, "at", admin_iso(last.at_wall_ms)));
	return c;
}

static void admin_circuits(struct exchange *x)
{
	const struct runtime *rt = x->worker->rt;
	json_t *doc = json_object(), *list = json_object();
	size_t i;

	for (i = 0; i < rt->cfg->nupstreams; i++)
		json_object_set_new(list, rt->cfg->upstreams[i].name, admin_circuit(&rt->upstreams[i]));
	json_object_set_new(doc, "circuits", list);
	admin_answer_json(x, 200, doc);
}

static void admin_models(struct exchange *x)
{
	const struct runtime *rt = x->worker->rt;
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

static void admin_metrics(struct exchange *x)
{
	struct buf out;
	struct MHD_Response *r;
	char *text;
	size_t len;

	buf_init(&out, 16 * 1024 * 1024);
	if (metrics_render(x->worker->rt, &out) != 0) {
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
	const struct config *cfg = x->worker->rt->cfg;

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

bool admin_wants_body(enum exchange_endpoint ep)
{
	return ep == EXCHANGE_ADMIN_CIRCUIT || ep == EXCHANGE_ADMIN_DEGRADATION;
}

bool admin_begin(struct exchange *x)
{
	switch (x->endpoint) {
	case EXCHANGE_HEALTH: admin_health(x); return true;
	case EXCHANGE_HEALTH_LIVE: admin_live(x); return true;
	case EXCHANGE_CIRCUITS: admin_circuits(x); return true;
	case EXCHANGE_METRICS: admin_metrics(x); return true;
	case EXCHANGE_MODELS: admin_models(x); return true;
	case EXCHANGE_ADMIN_CIRCUIT:
	case EXCHANGE_ADMIN_DEGRADATION:
		return !admin_authorized(x);
	default:
		return false;
	}
}

void admin_body(struct exchange *x)
{
	exchange_answer_error(x, 501, "server_error", "not_implemented", NULL,
			      "This admin endpoint is not implemented yet.");
}

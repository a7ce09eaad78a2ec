/* server.c — a worker's HTTP front end: its libmicrohttpd daemon, the request handler, and the dispatch to endpoints. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "admin.h"
#include "invariant.h"
#include "auth.h"
#include "clock.h"
#include "connwatch.h"
#include "exchange.h"
#include "httpframe.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "ingress_responses.h"
#include "runtime.h"

struct server_route {
	const char *path;
	const char *method;
	enum exchange_endpoint endpoint;
};

static const struct server_route server_routes[] = {
	{ "/v1/chat/completions", "POST", EXCHANGE_CHAT },
	{ "/v1/responses", "POST", EXCHANGE_RESPONSES },
	{ "/v1/completions", "POST", EXCHANGE_COMPLETIONS },
	{ "/v1/embeddings", "POST", EXCHANGE_EMBEDDINGS },
	{ "/v1/models", "GET", EXCHANGE_MODELS },
	{ "/health", "GET", EXCHANGE_HEALTH },
	{ "/health/live", "GET", EXCHANGE_HEALTH_LIVE },
	{ "/circuits", "GET", EXCHANGE_CIRCUITS },
	{ "/metrics", "GET", EXCHANGE_METRICS },
	{ "/admin/degradation", "POST", EXCHANGE_ADMIN_DEGRADATION },
};

#define SERVER_ADMIN_CIRCUITS "/admin/circuits/"
#define SERVER_MODEL "/v1/models/"

/* libmicrohttpd's per-connection pool: request line and headers, and the
 * buffer a stream is written through. It is touched whole, so it is most of
 * what an open stream costs; 16 KiB holds any sane set of headers (nginx
 * allows 8 KiB per header line by default). */
#define SERVER_CONNECTION_MEMORY (16 * 1024)

/* Bytes of an oversized body read and dropped before the connection is cut. */
#define SERVER_DISCARD_MAX (16u * 1024 * 1024)

/* Finds the endpoint of path; *method_ok tells whether method fits it. */
static enum exchange_endpoint server_match(const char *method, const char *path, const char **allow)
{
	size_t i;

	*allow = NULL;
	for (i = 0; i < sizeof server_routes / sizeof server_routes[0]; i++) {
		if (strcmp(server_routes[i].path, path) != 0)
			continue;
		*allow = server_routes[i].method;
		if (strcmp(server_routes[i].method, method) != 0 &&
		    !(strcmp(method, "HEAD") == 0 && strcmp(server_routes[i].method, "GET") == 0))
			return EXCHANGE_NOT_FOUND;
		return server_routes[i].endpoint;
	}
	if (strncmp(path, SERVER_MODEL, strlen(SERVER_MODEL)) == 0 && path[strlen(SERVER_MODEL)] != '\0') {
		*allow = "GET";
		return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? EXCHANGE_MODEL : EXCHANGE_NOT_FOUND;
	}
	if (strncmp(path, INGRESS_RESPONSES_PREFIX, strlen(INGRESS_RESPONSES_PREFIX)) == 0) {
		*allow = "GET, DELETE";
		return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "DELETE") == 0
			       ? EXCHANGE_RESPONSE
			       : EXCHANGE_NOT_FOUND;
	}
	if (strncmp(path, SERVER_ADMIN_CIRCUITS, strlen(SERVER_ADMIN_CIRCUITS)) == 0 &&
	    path[strlen(SERVER_ADMIN_CIRCUITS)] != '\0') {
		*allow = "POST";
		return strcmp(method, "POST") == 0 ? EXCHANGE_ADMIN_CIRCUIT : EXCHANGE_NOT_FOUND;
	}
	return EXCHANGE_NOT_FOUND;
}

static bool server_is_proxy(enum exchange_endpoint ep)
{
	return ep == EXCHANGE_CHAT || ep == EXCHANGE_RESPONSES || ep == EXCHANGE_RESPONSE ||
	       ep == EXCHANGE_COMPLETIONS || ep == EXCHANGE_EMBEDDINGS;
}

/* Keeps the client's x-request-id when it is a sane token, else makes one. */
static void server_request_id(struct exchange *x)
{
	const char *given = MHD_lookup_connection_value(x->connection, MHD_HEADER_KIND, "x-request-id");
	size_t i, n;

	if (given != NULL && (n = strlen(given)) > 0 && n < sizeof x->request_id) {
		for (i = 0; i < n; i++) {
			char c = given[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '-' || c == '_' || c == '.' || c == ':'))
				break;
		}
		if (i == n) {
			memcpy(x->request_id, given, n + 1);
			return;
		}
	}
	rng_hex(&x->ctx->rng, x->request_id, 32);
}

static enum MHD_Result server_frame_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
					   const char *value, size_t value_size)
{
	(void)kind;
	httpframe_header(cls, key, key_size, value != NULL ? value : "", value != NULL ? value_size : 0);
	return MHD_YES;
}

/* Refuses, with a 400 and a closed connection, a head whose framing is
 * ambiguous (RFC 9112): before anything reads its body or routes it. */
static bool server_frame_refused(struct exchange *x, const char *version)
{
	struct httpframe f;
	const char *why;

	httpframe_init(&f);
	MHD_get_connection_values_n(x->connection, MHD_HEADER_KIND, server_frame_header, &f);
	why = httpframe_verdict(&f, strcmp(version, MHD_HTTP_VERSION_1_1) == 0);
	if (why == NULL)
		return false;
	exchange_answer_error(x, 400, "invalid_request_error", "invalid_request", NULL, why);
	if (x->response != NULL)
		MHD_add_response_header(x->response, MHD_HTTP_HEADER_CONNECTION, "close");
	return true;
}

/* Answers what needs no body: the status pages, and the refusals. Returns
 * true when it answered. */
static bool server_begin(struct exchange *x, const char *method, const char *path)
{
	const struct config *cfg = x->ctx->rt->cfg;
	const char *allow, *length;
	char message[160];

	x->endpoint = server_match(method, path, &allow);
	x->path = path;
	x->method = method;
	if (x->endpoint == EXCHANGE_NOT_FOUND && allow != NULL) {
		snprintf(message, sizeof message, "%s is not allowed on %s; use %s", method, path, allow);
		exchange_answer_error(x, 405, "invalid_request_error", "method_not_allowed", NULL, message);
		if (x->response != NULL)
			MHD_add_response_header(x->response, "Allow", allow);
		return true;
	}
	if (x->endpoint == EXCHANGE_NOT_FOUND) {
		snprintf(message, sizeof message, "Unknown request URL: %s %.100s", method, path);
		exchange_answer_error(x, 404, "invalid_request_error", "unknown_url", NULL, message);
		return true;
	}
	if (!server_is_proxy(x->endpoint) && x->endpoint != EXCHANGE_MODELS && x->endpoint != EXCHANGE_MODEL)
		return admin_begin(x);
	if (!auth_client_allowed(cfg, MHD_lookup_connection_value(x->connection, MHD_HEADER_KIND,
								  MHD_HTTP_HEADER_AUTHORIZATION))) {
		exchange_answer_error(x, 401, "invalid_request_error", "invalid_api_key", NULL,
				      "Incorrect API key provided. Use one of detour's client keys.");
		if (x->response != NULL)
			MHD_add_response_header(x->response, "WWW-Authenticate", "Bearer");
		return true;
	}
	if (x->endpoint == EXCHANGE_MODELS || x->endpoint == EXCHANGE_MODEL)
		return admin_begin(x);
	if (x->endpoint == EXCHANGE_RESPONSE) {
		ingress_responses_stored(x, method, path);
		return true;
	}
	length = MHD_lookup_connection_value(x->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length != NULL && strtoull(length, NULL, 10) > cfg->server.max_body) {
		x->body_too_large = true;
		snprintf(message, sizeof message, "Request body of %s bytes is larger than max_body (%zu bytes).",
			 length, cfg->server.max_body);
		exchange_answer_error(x, 413, "invalid_request_error", "request_too_large", NULL, message);
		return true;
	}
	return false;
}

/* The body is complete: parse it once and start the attempt loop. */
static void server_dispatch(struct exchange *x)
{
	static const enum request_kind kinds[] = {
		[EXCHANGE_CHAT] = REQUEST_CHAT,
		[EXCHANGE_COMPLETIONS] = REQUEST_COMPLETIONS,
		[EXCHANGE_EMBEDDINGS] = REQUEST_EMBEDDINGS,
	};
	struct request_error e;

	if (admin_wants_body(x->endpoint)) {
		admin_body(x);
		return;
	}
	if (x->endpoint == EXCHANGE_RESPONSES) {
		ingress_responses_start(x);
		return;
	}
	if (request_parse(&x->request, kinds[x->endpoint], x->body.data ? x->body.data : "",
			  x->body.len, &e) != 0) {
		exchange_answer_error(x, 400, "invalid_request_error", e.code, e.param, e.message);
		return;
	}
	x->parsed = true;
	proxy_start(x);
}

static enum MHD_Result server_queue(struct exchange *x)
{
	enum MHD_Result rc;

	/* Queued once, with the answer an exchange_answer stored. */
	DETOUR_ASSERT(x->response != NULL && !x->answered);
	rc = MHD_queue_response(x->connection, x->status, x->response);

	MHD_destroy_response(x->response);
	x->response = NULL;
	x->answered = true;
	return rc;
}

static void server_refuse_large_body(struct exchange *x)
{
	char message[128];

	snprintf(message, sizeof message, "Request body is larger than max_body (%zu bytes).", x->body.max);
	exchange_answer_error(x, 413, "invalid_request_error", "request_too_large", NULL, message);
}

/*
 * Keeps body bytes up to max_body. Past it (a chunked body has no length to
 * refuse up front) libmicrohttpd lets an answer go out only once the body has
 * ended, so the rest is read and dropped, up to SERVER_DISCARD_MAX, after which
 * the connection is closed instead.
 */
static enum MHD_Result server_take_body(struct exchange *x, const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	/* libmicrohttpd's timeout only sees silence; a body trickled byte by byte is cut here. */
	if (clock_now_ms() - x->started_ms > x->ctx->rt->cfg->server.client_timeout_ms) {
		log_warn("body not complete within client_timeout; closing", LOG_STR("request_id", x->request_id));
		return MHD_NO;
	}
	if (!x->body_too_large && buf_append(&x->body, data, n) == 0)
		return MHD_YES;
	x->body_too_large = true;
	x->discarded += n;
	if (x->discarded > SERVER_DISCARD_MAX) {
		log_warn("body over max_body kept coming; closing the connection", LOG_STR("request_id", x->request_id));
		return MHD_NO;
	}
	return MHD_YES;
}

static enum MHD_Result server_handle(void *cls, struct MHD_Connection *connection, const char *url,
				     const char *method, const char *version, const char *upload_data,
				     size_t *upload_data_size, void **req_cls)
{
	struct server *srv = cls;
	struct exchange *x = *req_cls;

	if (x == NULL) {
		connwatch_head_done(connection);
		x = exchange_new(srv->ctx, connection);
		if (x == NULL)
			return MHD_NO;
		*req_cls = x;
		server_request_id(x);
		if (server_frame_refused(x, version) || server_begin(x, method, url))
			return x->response != NULL ? server_queue(x) : MHD_NO;
		return MHD_YES;
	}
	if (x->answered)
		return MHD_YES;
	if (x->response != NULL) {
		/* An answer is ready; any body still arriving is discarded. */
		*upload_data_size = 0;
		return server_queue(x);
	}
	if (*upload_data_size > 0)
		return server_take_body(x, upload_data, upload_data_size);
	if (x->body_too_large) {
		server_refuse_large_body(x);
		return server_queue(x);
	}
	server_dispatch(x);
	if (x->response != NULL)
		return server_queue(x);
	exchange_suspend(x);
	return MHD_YES;
}

/* Writes the client's address of c into out ("-" when unknown). */
static void server_client_address(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;

	snprintf(out, len, "-");
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)len);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)len);
}

/* The access line: one a request, every key always in the same place, so
 * `request_id=X path=P status=S` reads the same in every line. */
static void server_log_access(const struct exchange *x, bool whole, enum end_reason end, uint64_t ms)
{
	const struct attempt_loop *a = &x->attempt;
	bool proxied = x->parsed && a->route != NULL;
	char client[INET6_ADDRSTRLEN];

	server_client_address(x->connection, client, sizeof client);
	log_event(whole ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "request", LOG_STR("request_id", x->request_id),
		  LOG_STR("path", x->path != NULL ? x->path : "-"), LOG_UINT("status", x->answered ? x->status : 0),
		  LOG_STR("method", x->method), LOG_STR("model", x->parsed ? x->request.model : NULL),
		  LOG_STR("route", proxied ? a->route->name : NULL), LOG_STR("upstream", x->answered_by),
		  LOG_UINT("attempts", x->attempts.tries),
		  LOG_STR("answer_level", x->answer_level), LOG_STR("cache", x->cache != NULL ? x->cache : proxied ? "none" : NULL),
		  LOG_BOOL("stream", x->parsed && x->request.stream), LOG_UINT("bytes", x->bytes_out),
		  LOG_UINT("duration_ms", ms), LOG_UINT_IF("ttfb_ms", x->first_byte_ms != 0, x->first_byte_ms - x->started_ms),
		  LOG_STR("client", client),
		  LOG_STR("upstream_request_id", x->upstream_request_id[0] != '\0' ? x->upstream_request_id : NULL),
		  LOG_STR("end", end_reason_name(end)), LOG_UINT_IF("client_gone", !whole, 1));
}

static void server_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
			     enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct context *ctx = srv->ctx;
	struct exchange *x = *req_cls;
	enum end_reason end;
	uint64_t ms;

	if (x == NULL)
		return;
	*req_cls = NULL;
	connwatch_request_done(connection);
	ms = clock_now_ms() - x->started_ms;
	/* A connection cut before its answer was whole: the client left, unless
	 * detour cut it short on purpose. */
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && x->end != END_SHUTDOWN && x->end != END_STREAM_CUT)
		exchange_end_as(x, END_CLIENT_GONE);
	end = exchange_end_reason(x);
	if (x->answered)
		metrics_request(ctx->metrics, exchange_metrics_endpoint(x->endpoint), x->status, ms);
	metrics_end(ctx->metrics, end);
	if (x->streamed)
		metrics_add(&ctx->metrics->streams_closed, 1);
	if (end == END_CLIENT_GONE)
		metrics_add(&ctx->metrics->client_aborts, 1);
	if (ctx->rt->cfg->log.access || (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && x->parsed))
		server_log_access(x, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK, end, ms);
	exchange_release(x);
}

/* A request libmicrohttpd answered itself, never seen by server_handle: its
 * log line is all there is, so it becomes a count and an access line. The
 * connection is not named, so the line has no client or request id. */
static void server_note_refusal(struct server *srv, unsigned status, const char *why)
{
	struct context *ctx = srv->ctx;

	metrics_request(ctx->metrics, METRICS_OTHER, status, 0);
	metrics_end(ctx->metrics, END_REFUSED);
	if (ctx->rt->cfg->log.access)
		log_info("request", LOG_STR("path", "-"), LOG_UINT("status", status), LOG_UINT("attempts", 0),
			 LOG_STR("end", end_reason_name(END_REFUSED)), LOG_STR("error", why),
			 LOG_STR("by", "libmicrohttpd"));
}

static void server_log(void *cls, const char *fmt, va_list ap)
{
	struct server *srv = cls;
	char line[512], why[64];
	unsigned status;

	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (httpframe_refusal(line, &status, why, sizeof why))
		server_note_refusal(srv, status, why);
	/* libmicrohttpd tells of EMFILE/ENFILE only in words; it then stops accepting. */
	if (strstr(line, "Too many open files") != NULL || strstr(line, "resource limit") != NULL)
		gate_note_out_of_fds(&srv->gate);
	log_debug("libmicrohttpd", LOG_STR("said", line));
}

static size_t server_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return httpframe_unescape(s);
}

static int server_address(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof *in4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof *in6;
		return 0;
	}
	return -1;
}

int server_probe_address(const char *host, uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = -1, one = 1, rc = -1;

	if (server_address(host, port, &ss, &len) != 0) {
		snprintf(err, errlen, "server.listen: \"%s\" is not an IPv4 or IPv6 address", host);
		goto done;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", host, port, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

static void server_timer_fire(struct timer *t)
{
	struct server *srv = t->arg;

	context_server_due(srv->ctx);
}

static void server_event(struct loop_watch *w, uint32_t events)
{
	struct server *srv = w->arg;

	(void)events;
	context_server_due(srv->ctx);
}

int server_start(struct server *srv, struct context *ctx, int listen_fd, char *err, size_t errlen)
{
	const struct config *cfg = ctx->rt->cfg;
	struct sockaddr_storage ss;
	socklen_t len;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
	unsigned limit = cfg->server.max_connections / cfg->server.workers;
	unsigned idle_s = (unsigned)((cfg->server.client_timeout_ms + 999) / 1000);

	srv->ctx = ctx;
	srv->mhd = NULL;
	srv->mhd_fd = -1;
	srv->listen_fd = listen_fd;
	loop_watch_init(&srv->watch, server_event, srv);
	timer_init(&srv->timer, server_timer_fire, srv);
	if (server_address(cfg->server.host, cfg->server.port, &ss, &len) != 0) {
		snprintf(err, errlen, "server.listen: \"%s\" is not an IPv4 or IPv6 address", cfg->server.host);
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	gate_init(&srv->gate);
	connwatch_init(&srv->connwatch, ctx);
	srv->limit = limit > 0 ? limit : 1u;
	srv->mhd = MHD_start_daemon(flags, cfg->server.port, connwatch_accept, &srv->connwatch, server_handle, srv,
				    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
				    MHD_OPTION_CONNECTION_LIMIT, srv->limit,
				    MHD_OPTION_CONNECTION_TIMEOUT, idle_s > 0 ? idle_s : 1u,
				    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
				    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVER_CONNECTION_MEMORY,
				    MHD_OPTION_NOTIFY_COMPLETED, server_completed, srv,
				    MHD_OPTION_NOTIFY_CONNECTION, connwatch_notify, &srv->connwatch,
				    MHD_OPTION_EXTERNAL_LOGGER, server_log, srv,
				    /* Not MHD_OPTION_STRICT_FOR_CLIENT: its Host check answers from
				     * parse_connection_headers, whose 400 0.9.75 writes with two status
				     * lines; httpframe checks Host instead, with one JSON 400. */
				    MHD_OPTION_UNESCAPE_CALLBACK, server_unescape, (void *)NULL,
				    /* -1 (none) makes libmicrohttpd bind its own. */
				    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->listen_fd,
				    MHD_OPTION_END);
	if (srv->mhd == NULL) {
		/* An adopted socket is libmicrohttpd's now, closed or not: at worst
		 * one descriptor stays open after a failed reload. */
		srv->listen_fd = -1;
		snprintf(err, errlen, "worker %u: cannot start the HTTP server on %s:%u", ctx->id,
			 cfg->server.host, cfg->server.port);
		return -1;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	srv->mhd_fd = info->epoll_fd;
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	srv->listen_fd = info->listen_fd;
	if (loop_watch_fd(&ctx->loop, &srv->watch, srv->mhd_fd, EPOLLIN) != 0) {
		snprintf(err, errlen, "worker %u: epoll_ctl: %s", ctx->id, strerror(errno));
		MHD_stop_daemon(srv->mhd);
		srv->mhd = NULL;
		srv->listen_fd = -1;
		return -1;
	}
	context_server_due(ctx);
	return 0;
}

/* Warns, at most once per GATE_WARN_EVERY_MS, that the worker stopped accepting. */
static void server_warn_shut(struct server *srv)
{
	unsigned times;

	if (!gate_warn_due(&srv->gate, clock_now_ms(), &times))
		return;
	if (srv->gate.at_limit)
		log_warn("at its connection limit (server.max_connections / workers); new connections wait in the backlog",
			 LOG_UINT("worker", srv->ctx->id), LOG_UINT("limit", srv->limit), LOG_UINT("times", times));
	else
		log_warn("out of file descriptors; new connections wait in the backlog "
			 "(raise ulimit -n or lower max_connections)",
			 LOG_UINT("worker", srv->ctx->id), LOG_UINT("times", times));
}

void server_run(struct server *srv)
{
	MHD_UNSIGNED_LONG_LONG timeout;
	unsigned before = server_connections(srv);
	bool newly_shut;

	srv->ctx->server_due = false;
	MHD_run(srv->mhd);
	connwatch_after_run(&srv->connwatch);
	if (gate_after_run(&srv->gate, before, server_connections(srv), srv->limit, &newly_shut))
		srv->ctx->server_due = true;
	if (newly_shut)
		server_warn_shut(srv);
	if (MHD_get_timeout(srv->mhd, &timeout) == MHD_YES)
		timers_arm(&srv->ctx->timers, &srv->timer, clock_now_ms() + (uint64_t)timeout);
	else
		timers_disarm(&srv->ctx->timers, &srv->timer);
}

unsigned server_connections(const struct server *srv)
{
	const union MHD_DaemonInfo *info;

	if (srv->mhd == NULL)
		return 0;
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info != NULL ? info->num_connections : 0;
}

void server_quiesce(struct server *srv)
{
	if (srv->mhd == NULL || srv->listen_fd < 0)
		return;
	srv->listen_fd = MHD_quiesce_daemon(srv->mhd);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	srv->listen_fd = -1;
}

void server_stop(struct server *srv)
{
	struct exchange *x;

	if (srv->mhd == NULL)
		return;
	/* A suspended connection must be resumed before the daemon may stop. */
	for (x = srv->ctx->exchanges; x != NULL; x = x->next_in_worker)
		exchange_shut_down(x, false);
	server_run(srv);
	timers_disarm(&srv->ctx->timers, &srv->timer);
	loop_unwatch(&srv->ctx->loop, &srv->watch);
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	srv->listen_fd = -1;
}

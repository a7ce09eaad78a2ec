/* exchange.c — one client request and everything done for it, from its first byte to its answer, on one worker. */
#include "exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <microhttpd.h>

#include "apierror.h"
#include "invariant.h"
#include "clock.h"
#include "log.h"
#include "runtime.h"
#include "timers.h"

/* A request still waiting for its upstream after this long has its client's socket watched. */
#define EXCHANGE_WATCH_AFTER_MS 100

/* Spare exchanges a thread keeps, and the body memory each may keep. */
#define EXCHANGE_SPARE_MAX 1024
#define EXCHANGE_KEEP_BODY (64 * 1024)

static void exchange_watch_client(struct exchange *x);
static void exchange_unwatch_client(struct exchange *x);
static void exchange_watch_fire(struct timer *t);
static void exchange_client_event(struct loop_watch *w, uint32_t events);

struct exchange *exchange_new(struct context *ctx, struct MHD_Connection *c)
{
	struct exchange *x = ctx->spare;

	if (x != NULL) {
		ctx->spare = x->next_in_worker;
		ctx->nspare--;
	} else {
		x = calloc(1, sizeof *x);
		if (x == NULL)
			return NULL;
		buf_init(&x->body, 0);
		attempt_loop_init(&x->attempt);
	}
	x->ctx = ctx;
	x->connection = c;
	x->endpoint = EXCHANGE_NOT_FOUND;
	x->path = NULL;
	x->request_id[0] = '\0';
	x->upstream_request_id[0] = '\0';
	x->started_ms = clock_now_ms();
	x->deadline_ms = x->started_ms + ctx->rt->cfg->server.request_timeout_ms;
	buf_reset(&x->body);
	x->body.max = ctx->rt->cfg->server.max_body;
	x->body_too_large = false;
	x->discarded = 0;
	x->parsed = false;
	x->ingress = NULL;
	x->ingress_state = NULL;
	x->producer = NULL;
	attempt_loop_begin(&x->attempt);
	attempts_init(&x->attempts);
	x->upstream = NULL;
	x->transfer = NULL;
	x->transfer_started_ms = 0;
	tierwait_init(&x->tierwait, ctx);
	loop_watch_init(&x->client_watch, exchange_client_event, x);
	timer_init(&x->watch_timer, exchange_watch_fire, x);
	x->response = NULL;
	x->status = 0;
	x->suspended = false;
	x->answered = false;
	x->end = END_NONE;
	x->method = NULL;
	x->streamed = false;
	x->answered_by = NULL;
	x->asked_model = NULL;
	x->answer_level = NULL;
	x->cache = NULL;
	x->bytes_out = 0;
	x->first_byte_ms = 0;

	x->prev = NULL;
	x->next_in_worker = ctx->exchanges;
	if (ctx->exchanges != NULL)
		ctx->exchanges->prev = x;
	ctx->exchanges = x;
	ctx->nexchanges++;
	return x;
}

void exchange_release(struct exchange *x)
{
	struct context *ctx = x->ctx;

	DETOUR_ASSERT(ctx->nexchanges > 0);
	timers_disarm(&ctx->timers, &x->watch_timer);
	exchange_unwatch_client(x);
	tierwait_cancel(&x->tierwait);
	if (x->producer != NULL) {
		x->producer->stop(x);
		x->producer->release(x);
	}
	/* What the producer held is given back: nothing may outlive the exchange. */
	DETOUR_ASSERT(x->transfer == NULL && x->stream == NULL);
	attempts_free(&x->attempts);
	if (x->parsed)
		request_free(&x->request);
	attempt_loop_end(&x->attempt);
	if (x->response != NULL && !x->answered)
		MHD_destroy_response(x->response);
	x->response = NULL;

	if (x->prev != NULL)
		x->prev->next_in_worker = x->next_in_worker;
	else
		ctx->exchanges = x->next_in_worker;
	if (x->next_in_worker != NULL)
		x->next_in_worker->prev = x->prev;
	ctx->nexchanges--;

	/* Events later in this loop turn may still name x: it waits in
	 * released, unused, until the turn is over. */
	x->next_in_worker = ctx->released;
	ctx->released = x;
}

static void exchange_free(struct exchange *x)
{
	buf_free(&x->body);
	attempt_loop_free(&x->attempt);
	free(x);
}

void exchange_recycle_released(struct context *ctx)
{
	struct exchange *x;

	while ((x = ctx->released) != NULL) {
		ctx->released = x->next_in_worker;
		if (ctx->nspare < EXCHANGE_SPARE_MAX) {
			buf_shrink(&x->body, EXCHANGE_KEEP_BODY);
			attempt_loop_shrink(&x->attempt, EXCHANGE_KEEP_BODY);
			x->next_in_worker = ctx->spare;
			ctx->spare = x;
			ctx->nspare++;
		} else {
			exchange_free(x);
		}
	}
}

void exchange_free_spares(struct context *ctx)
{
	exchange_recycle_released(ctx);
	exchange_trim_spares(ctx, 0);
}

size_t exchange_trim_spares(struct context *ctx, size_t keep)
{
	struct exchange *x;
	size_t freed = 0;

	while (ctx->nspare > keep && (x = ctx->spare) != NULL) {
		ctx->spare = x->next_in_worker;
		ctx->nspare--;
		exchange_free(x);
		freed++;
	}
	return freed;
}

/* Only the peer's close is watched: libmicrohttpd does the reading and writing. */
static void exchange_watch_client(struct exchange *x)
{
	const union MHD_ConnectionInfo *info;

	if (x->client_watch.fd >= 0)
		return;
	info = MHD_get_connection_info(x->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (info == NULL)
		return;
	/* Only the peer's close: libmicrohttpd does the reading and writing. */
	loop_watch_fd(&x->ctx->loop, &x->client_watch, info->connect_fd, EPOLLRDHUP);
}

void exchange_watch_client_soon(struct exchange *x)
{
	if (x->client_watch.fd >= 0 || timer_armed(&x->watch_timer))
		return;
	timers_arm(&x->ctx->timers, &x->watch_timer, clock_now_ms() + EXCHANGE_WATCH_AFTER_MS);
}

static void exchange_unwatch_client(struct exchange *x)
{
	loop_unwatch(&x->ctx->loop, &x->client_watch);
}

bool exchange_committed(const struct exchange *x)
{
	return x->producer != NULL && x->producer->committed(x);
}

/* The loop saw the client's socket close: stop the work under way. */
static void exchange_client_event(struct loop_watch *w, uint32_t events)
{
	struct exchange *x = w->arg;

	(void)events;
	/* A late event for an exchange already released (or one no longer watched) says nothing. */
	if (w->fd < 0)
		return;
	exchange_unwatch_client(x);
	if (x->answered && !exchange_committed(x))
		return;
	log_info("the client went away; stopping its upstream call", LOG_STR("request_id", x->request_id));
	exchange_end_as(x, END_CLIENT_GONE);
	tierwait_cancel(&x->tierwait);
	if (x->producer != NULL)
		x->producer->stop(x);
	if (exchange_committed(x)) {
		x->producer->client_gone(x);
		return;
	}
	/* libmicrohttpd notices the closed socket once it tries to answer. */
	exchange_answer_error(x, 499, "invalid_request_error", "client_closed_request", NULL,
			      "The client closed the connection before the answer.");
}

void exchange_shut_down(struct exchange *x, bool cut)
{
	tierwait_cancel(&x->tierwait);
	if (x->producer != NULL && cut)
		x->producer->stop(x);
	if (exchange_committed(x)) {
		exchange_end_as(x, END_SHUTDOWN);
		if (cut)
			x->producer->cut(x, "shutting_down", "detour is shutting down; this answer was cut short");
		else
			x->producer->client_gone(x);
	} else if (x->response == NULL && !x->answered) {
		exchange_end_as(x, END_SHUTDOWN);
		exchange_answer_error(x, 503, "server_error", "shutting_down", NULL,
				      "detour is shutting down; retry the request");
	}
}

void exchange_answer(struct exchange *x, unsigned status, struct MHD_Response *response)
{
	if (response == NULL) {
		log_error("out of memory building the answer", LOG_STR("request_id", x->request_id));
		status = 500;
		exchange_end_as(x, END_INTERNAL);
		response = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (response == NULL)
			return;
	}
	/* An exchange answers once: a later answer (a client that left while
	 * the answer waited to be queued) is dropped. A committed answer is
	 * ended through its producer, never answered again. */
	if (x->response != NULL || x->answered) {
		DETOUR_ASSERT(!exchange_committed(x));
		MHD_destroy_response(response);
		return;
	}
	MHD_add_response_header(response, "x-request-id", x->request_id);
	/* A worker that is draining (a reload, a stop) sends its clients to the
	 * next connection, which a running worker accepts. */
	if (x->ctx->draining)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
	x->response = response;
	x->status = status;
	x->first_byte_ms = clock_now_ms();
	if (x->suspended) {
		x->suspended = false;
		MHD_resume_connection(x->connection);
		context_server_due(x->ctx);
	}
}

void exchange_answer_json(struct exchange *x, unsigned status, char *json, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, json, free);

	if (r == NULL) {
		free(json);
	} else {
		MHD_add_response_header(r, "Content-Type", "application/json");
		x->bytes_out = len;
	}
	exchange_answer(x, status, r);
}

void exchange_answer_error(struct exchange *x, unsigned status, const char *type, const char *code,
			   const char *param, const char *message)
{
	struct buf b;
	char *json;
	size_t len;

	buf_init(&b, 64 * 1024);
	if (apierror_json(&b, message, type, param, code) != 0) {
		buf_free(&b);
		exchange_answer(x, 500, NULL);
		return;
	}
	json = buf_take(&b, &len);
	exchange_answer_json(x, status, json, len);
}

enum end_reason exchange_end_reason(const struct exchange *x)
{
	if (x->end != END_NONE)
		return x->end;
	if (!x->answered && x->response == NULL)
		return END_CLIENT_GONE;
	if (x->status < 400)
		return END_LOCAL;
	if (x->status < 500)
		return END_REFUSED;
	return END_INTERNAL;
}

void exchange_suspend(struct exchange *x)
{
	if (x->response != NULL || x->suspended)
		return;
	x->suspended = true;
	MHD_suspend_connection(x->connection);
	/* Watching costs two epoll_ctl calls; an answer that comes quickly does not need it. */
	timers_arm(&x->ctx->timers, &x->watch_timer, clock_now_ms() + EXCHANGE_WATCH_AFTER_MS);
}

static void exchange_watch_fire(struct timer *t)
{
	struct exchange *x = t->arg;

	if (!x->answered || exchange_committed(x))
		exchange_watch_client(x);
}

enum metrics_endpoint exchange_metrics_endpoint(enum exchange_endpoint ep)
{
	switch (ep) {
	case EXCHANGE_CHAT: return METRICS_CHAT;
	case EXCHANGE_RESPONSES: return METRICS_RESPONSES;
	case EXCHANGE_COMPLETIONS: return METRICS_COMPLETIONS;
	case EXCHANGE_EMBEDDINGS: return METRICS_EMBEDDINGS;
	default: return METRICS_OTHER;
	}
}

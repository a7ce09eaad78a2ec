/* exchange.c — one client request and everything done for it, from its first byte to its answer, on one worker. */
#include "exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <microhttpd.h>

#include "apierror.h"
#include "clock.h"
#include "engine.h"
#include "log.h"
#include "proxy.h"
#include "stream.h"
#include "timers.h"
#include "worker.h"

/* A request still waiting for its upstream after this long has its client's socket watched. */
#define EXCHANGE_WATCH_AFTER_MS 100

/* Spare exchanges a worker keeps, and the body memory each may keep. */
#define EXCHANGE_SPARE_MAX 1024
#define EXCHANGE_KEEP_BODY (64 * 1024)

static void exchange_unwatch_client(struct exchange *x);
static void exchange_watch_fire(struct timer *t);

struct exchange *exchange_new(struct worker *w, struct MHD_Connection *c)
{
	struct exchange *x = w->spare;

	if (x != NULL) {
		w->spare = x->next_in_worker;
		w->nspare--;
	} else {
		x = calloc(1, sizeof *x);
		if (x == NULL)
			return NULL;
		buf_init(&x->body, 0);
		buf_init(&x->cache_key, 0);
	}
	x->worker = w;
	x->connection = c;
	x->endpoint = EXCHANGE_NOT_FOUND;
	x->path = NULL;
	x->request_id[0] = '\0';
	x->started_ms = clock_now_ms();
	x->deadline_ms = x->started_ms + w->rt->cfg->server.request_timeout_ms;
	buf_reset(&x->body);
	x->body.max = w->rt->cfg->server.max_body;
	x->body_too_large = false;
	x->discarded = 0;
	x->parsed = false;
	x->route = NULL;
	x->mode = CONFIG_LEVEL_AUTO;
	x->level = CONFIG_LEVEL_FULL;
	x->targets = NULL;
	x->ntried = 0;
	x->upstream_stream = false;
	buf_reset(&x->cache_key);
	x->norder = 0;
	x->next = 0;
	x->target = NULL;
	x->upstream = NULL;
	x->upstream_body = NULL;
	x->transfer = NULL;
	x->transfer_started_ms = 0;
	x->watching_client = false;
	timer_init(&x->watch_timer, exchange_watch_fire, x);
	attempts_init(&x->attempts);
	x->probe = false;
	x->target_tries = 0;
	timer_init(&x->wait_timer, NULL, x);
	x->holds_retry = false;
	x->counted_active = false;
	x->earliest_retry_ms = 0;
	x->refusal[0] = '\0';
	x->response = NULL;
	x->status = 0;
	x->suspended = false;
	x->answered = false;

	x->prev = NULL;
	x->next_in_worker = w->exchanges;
	if (w->exchanges != NULL)
		w->exchanges->prev = x;
	w->exchanges = x;
	w->nexchanges++;
	return x;
}

void exchange_release(struct exchange *x)
{
	struct worker *w = x->worker;

	timers_disarm(&w->timers, &x->watch_timer);
	exchange_unwatch_client(x);
	proxy_abort(x);
	stream_release(x);
	attempts_free(&x->attempts);
	if (x->parsed)
		request_free(&x->request);
	free(x->upstream_body);
	x->upstream_body = NULL;
	if (x->response != NULL && !x->answered)
		MHD_destroy_response(x->response);
	x->response = NULL;

	if (x->prev != NULL)
		x->prev->next_in_worker = x->next_in_worker;
	else
		w->exchanges = x->next_in_worker;
	if (x->next_in_worker != NULL)
		x->next_in_worker->prev = x->prev;
	w->nexchanges--;

	/* Events later in this epoll batch may still name x: it waits in
	 * released, unused, until the batch is over. */
	x->next_in_worker = w->released;
	w->released = x;
}

void exchange_recycle_released(struct worker *w)
{
	struct exchange *x;

	while ((x = w->released) != NULL) {
		w->released = x->next_in_worker;
		if (w->nspare < EXCHANGE_SPARE_MAX) {
			buf_shrink(&x->body, EXCHANGE_KEEP_BODY);
			buf_shrink(&x->cache_key, EXCHANGE_KEEP_BODY);
			x->next_in_worker = w->spare;
			w->spare = x;
			w->nspare++;
		} else {
			buf_free(&x->body);
			buf_free(&x->cache_key);
			free(x);
		}
	}
}

void exchange_watch_client(struct exchange *x)
{
	const union MHD_ConnectionInfo *info;
	struct epoll_event ev;

	if (x->watching_client)
		return;
	info = MHD_get_connection_info(x->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (info == NULL)
		return;
	x->client_fd = info->connect_fd;
	memset(&ev, 0, sizeof ev);
	/* Only the peer's close: libmicrohttpd does the reading and writing. */
	ev.events = EPOLLRDHUP;
	ev.data.u64 = (uint64_t)(uintptr_t)x | WORKER_TAG_CLIENT;
	if (epoll_ctl(x->worker->epfd, EPOLL_CTL_ADD, x->client_fd, &ev) == 0)
		x->watching_client = true;
}

static void exchange_unwatch_client(struct exchange *x)
{
	if (!x->watching_client)
		return;
	epoll_ctl(x->worker->epfd, EPOLL_CTL_DEL, x->client_fd, NULL);
	x->watching_client = false;
}

void exchange_client_gone(struct exchange *x)
{
	/* A late event for an exchange already released (or one no longer watched) says nothing. */
	if (!x->watching_client)
		return;
	exchange_unwatch_client(x);
	if (x->answered && !stream_committed(x))
		return;
	log_info("request_id=%s the client went away; stopping its upstream call", x->request_id);
	proxy_abort(x);
	if (stream_committed(x)) {
		stream_client_gone(x);
		return;
	}
	/* libmicrohttpd notices the closed socket once it tries to answer. */
	exchange_answer_error(x, 499, "invalid_request_error", "client_closed_request", NULL,
			      "The client closed the connection before the answer.");
}

void exchange_answer(struct exchange *x, unsigned status, struct MHD_Response *response)
{
	if (response == NULL) {
		log_error("request_id=%s out of memory building the answer", x->request_id);
		status = 500;
		response = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (response == NULL)
			return;
	}
	if (x->response != NULL || x->answered) {
		MHD_destroy_response(response);
		return;
	}
	MHD_add_response_header(response, "x-request-id", x->request_id);
	/* A worker that is draining (a reload, a stop) sends its clients to the
	 * next connection, which a running worker accepts. */
	if (x->worker->draining)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
	x->response = response;
	x->status = status;
	if (x->suspended) {
		x->suspended = false;
		MHD_resume_connection(x->connection);
		worker_server_due(x->worker);
	}
}

void exchange_answer_json(struct exchange *x, unsigned status, char *json, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, json, free);

	if (r == NULL)
		free(json);
	else
		MHD_add_response_header(r, "Content-Type", "application/json");
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

void exchange_suspend(struct exchange *x)
{
	if (x->response != NULL || x->suspended)
		return;
	x->suspended = true;
	MHD_suspend_connection(x->connection);
	/* Watching costs two epoll_ctl calls; an answer that comes quickly does not need it. */
	timers_arm(&x->worker->timers, &x->watch_timer, clock_now_ms() + EXCHANGE_WATCH_AFTER_MS);
}

static void exchange_watch_fire(struct timer *t)
{
	struct exchange *x = t->arg;

	if (!x->answered || stream_committed(x))
		exchange_watch_client(x);
}

enum metrics_endpoint exchange_metrics_endpoint(enum exchange_endpoint ep)
{
	switch (ep) {
	case EXCHANGE_CHAT: return METRICS_CHAT;
	case EXCHANGE_COMPLETIONS: return METRICS_COMPLETIONS;
	case EXCHANGE_EMBEDDINGS: return METRICS_EMBEDDINGS;
	default: return METRICS_OTHER;
	}
}

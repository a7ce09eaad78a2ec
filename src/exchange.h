/* exchange.h — one client request and everything done for it, from its first byte to its answer, on one worker. */
#ifndef DETOUR_EXCHANGE_H
#define DETOUR_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attempts.h"
#include "buf.h"
#include "config.h"
#include "metrics.h"
#include "request.h"
#include "router.h"
#include "timers.h"

struct MHD_Connection;
struct MHD_Response;
struct worker;
struct upstream;
struct engine_transfer;
struct stream;

enum exchange_endpoint {
	EXCHANGE_CHAT,
	EXCHANGE_COMPLETIONS,
	EXCHANGE_EMBEDDINGS,
	EXCHANGE_MODELS,
	EXCHANGE_HEALTH,
	EXCHANGE_HEALTH_LIVE,
	EXCHANGE_CIRCUITS,
	EXCHANGE_METRICS,
	EXCHANGE_ADMIN_CIRCUIT,
	EXCHANGE_ADMIN_DEGRADATION,
	EXCHANGE_NOT_FOUND,
};

struct exchange {
	struct worker *worker;
	struct MHD_Connection *connection;
	enum exchange_endpoint endpoint;
	const char *path;            /* libmicrohttpd's, valid for the request */
	char request_id[72];
	uint64_t started_ms;
	uint64_t deadline_ms;        /* request_timeout from the first byte */

	struct buf body;             /* the client's body, capped at max_body */
	bool body_too_large;
	size_t discarded;            /* bytes dropped past max_body */
	struct request request;      /* parsed once */
	bool parsed;

	/* The attempt loop (proxy.c). */
	const struct config_route *route;
	enum config_level mode;      /* the degradation mode this request runs under */
	enum config_level level;     /* the level being tried */
	const struct config_target *targets; /* the level's targets */
	struct {
		const struct config_upstream *upstream;
		const char *model;
	} tried[ROUTER_MAX_TARGETS]; /* calls made, so a lower level does not repeat them */
	size_t ntried;
	bool upstream_stream;        /* the call to the upstream streams (the client may still want SSE) */
	struct buf cache_key;        /* canonical request, once computed */
	size_t order[ROUTER_MAX_TARGETS];
	size_t norder;
	size_t next;                 /* position in order[] of the next target */
	const struct config_target *target;
	struct upstream *upstream;
	char *upstream_body;         /* owned when the target changed the body */
	struct engine_transfer *transfer;
	uint64_t transfer_started_ms;
	struct stream *stream;       /* a streamed answer's state; NULL until one is tried */
	bool watching_client;        /* the client socket is in the worker's epoll (EPOLLRDHUP) */
	struct timer watch_timer;    /* starts the watch once the request has waited a while */
	int client_fd;
	struct attempts attempts;
	bool probe;                  /* this call is the breaker's half-open probe */
	unsigned target_tries;       /* calls made to the current target */
	struct timer wait_timer;     /* backoff before a retry */
	bool holds_retry;            /* owns one unit of the retry budget */
	bool counted_active;         /* counted in runtime.requests_active */
	uint64_t earliest_retry_ms;  /* when a skipped target could next be called; 0: none */
	char refusal[320];           /* why a target's dialect could not say the request (the client's mistake); "": none */

	/* The answer. */
	struct MHD_Response *response;
	unsigned status;
	bool suspended;              /* waiting on an upstream */
	bool answered;               /* queued to libmicrohttpd */

	struct exchange *prev;
	struct exchange *next_in_worker;
};

/* A fresh exchange on worker w for connection c, linked into the worker's
 * list; NULL when out of memory. */
struct exchange *exchange_new(struct worker *w, struct MHD_Connection *c);

/* Cancels what is still running and returns x to the worker's spares. */
void exchange_release(struct exchange *x);

/* Stores the answer (adding x-request-id), taking ownership of response, and
 * resumes the connection when it waits. An exchange answers once: a second
 * answer is destroyed. */
void exchange_answer(struct exchange *x, unsigned status, struct MHD_Response *response);

/* Answers with a JSON body the exchange takes (malloc'd, len bytes). */
void exchange_answer_json(struct exchange *x, unsigned status, char *json, size_t len);

/* Answers with an OpenAI-shaped error. param and code may be NULL. */
void exchange_answer_error(struct exchange *x, unsigned status, const char *type, const char *code,
			   const char *param, const char *message);

/* Waits for an answer that comes later from the worker's loop, watching the
 * client's socket so that a client who leaves is seen at once. */
void exchange_suspend(struct exchange *x);

/* Watches the client's socket for EPOLLRDHUP now (a committed stream may run for minutes). */
void exchange_watch_client(struct exchange *x);

/* The worker's epoll saw the client's socket close: stop the work under way. */
void exchange_client_gone(struct exchange *x);

/* Returns the exchanges released during one epoll batch to the spares (they
 * stay valid until then, as later events of the batch may name them). */
void exchange_recycle_released(struct worker *w);

/* The metrics bucket of an endpoint. */
enum metrics_endpoint exchange_metrics_endpoint(enum exchange_endpoint ep);

#endif

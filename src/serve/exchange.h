/* exchange.h — one client request and everything done for it, from its first byte to its answer, on one worker. */
#ifndef DETOUR_EXCHANGE_H
#define DETOUR_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attempt_loop.h"
#include "attempts.h"
#include "buf.h"
#include "config.h"
#include "context.h"
#include "end_reason.h"
#include "loop.h"
#include "metrics.h"
#include "request.h"
#include "router.h"
#include "tierwait.h"
#include "timers.h"

struct MHD_Connection;
struct MHD_Response;
struct upstream;
struct engine_transfer;
struct stream;
struct exchange;
struct ingress;

enum exchange_endpoint {
	EXCHANGE_CHAT,
	EXCHANGE_RESPONSES,          /* POST /v1/responses */
	EXCHANGE_RESPONSE,           /* GET, DELETE /v1/responses/{id}, GET .../input_items */
	EXCHANGE_COMPLETIONS,
	EXCHANGE_EMBEDDINGS,
	EXCHANGE_MODELS,
	EXCHANGE_MODEL,              /* GET /v1/models/{id} */
	EXCHANGE_HEALTH,
	EXCHANGE_HEALTH_LIVE,
	EXCHANGE_CIRCUITS,
	EXCHANGE_METRICS,
	EXCHANGE_ADMIN_CIRCUIT,
	EXCHANGE_ADMIN_DEGRADATION,
	EXCHANGE_NOT_FOUND,
};

/*
 * What produces an exchange's answer (the attempt loop, and the stream it may
 * run) talks to the exchange through the exchange's API; the exchange talks
 * back through these callbacks (as h2o's generator), never by name. Set by
 * the producer when it takes the exchange over; NULL for the answers detour
 * builds at once. Each runs on the exchange's thread.
 */
struct exchange_producer {
	/* Stop what is under way (a call, a wait) and give back what is held
	 * (a breaker probe, the retry budget). Safe to call twice. */
	void (*stop)(struct exchange *x);
	/* Free the producer's state: the exchange is going away (after stop). */
	void (*release)(struct exchange *x);
	/* True once the answer's first bytes went out and it can only be ended, not replaced. */
	bool (*committed)(const struct exchange *x);
	/* The client left a committed answer: end it without writing more. */
	void (*client_gone)(struct exchange *x);
	/* End a committed answer now with an error the client can read (code, message). */
	void (*cut)(struct exchange *x, const char *code, const char *message);
};

struct exchange {
	struct context *ctx;         /* the thread it runs on */
	struct MHD_Connection *connection;
	enum exchange_endpoint endpoint;
	const char *path;            /* libmicrohttpd's, valid for the request */
	char request_id[72];
	char upstream_request_id[72]; /* the answering upstream's own request id, for the access log; "": none */
	uint64_t started_ms;
	uint64_t deadline_ms;        /* request_timeout from the first byte */

	struct buf body;             /* the client's body, capped at max_body */
	bool body_too_large;
	size_t discarded;            /* bytes dropped past max_body */
	struct request request;      /* parsed once */
	bool parsed;
	const struct ingress *ingress; /* the API the client speaks (ingress.h); NULL: chat completions */
	void *ingress_state;         /* the ingress's own, freed by ingress_release */

	const struct exchange_producer *producer; /* NULL: detour answers by itself */
	struct attempt_loop attempt; /* the attempt loop's own state (proxy.c) */
	struct attempts attempts;    /* the calls made and passed over, for headers, errors and the log */
	/* The call under way, shared by the attempt loop and the stream it runs. */
	struct upstream *upstream;
	struct engine_transfer *transfer;
	uint64_t transfer_started_ms;
	struct stream *stream;       /* a streamed answer's state; NULL until one is tried */

	struct tierwait tierwait;    /* waiting on Redis for a local miss (tierwait.c) */

	struct loop_watch client_watch; /* the client socket in the loop (EPOLLRDHUP), while watching */
	struct timer watch_timer;    /* starts the watch once the request has waited a while */

	/* The answer. */
	struct MHD_Response *response;
	unsigned status;
	bool suspended;              /* waiting on an upstream */
	bool answered;               /* queued to libmicrohttpd */
	enum end_reason end;         /* why it ended; END_NONE until decided */

	/* What the access line and the metrics say of the answer, noted by whoever gave it. */
	const char *method;          /* libmicrohttpd's, valid for the request */
	bool streamed;               /* a stream was committed (counted open until the exchange ends) */
	const char *answered_by;     /* the upstream whose answer the client got; NULL: none */
	const char *asked_model;     /* the model the current call asked its upstream for (borrowed: the
				      * target's or the request's); NULL: no call yet */
	const char *answer_level;    /* the degradation level the answer was given at; NULL: none */
	const char *cache;           /* "hit" or "miss" once the cache was asked; NULL: not asked */
	uint64_t bytes_out;          /* body bytes handed to libmicrohttpd */
	uint64_t first_byte_ms;      /* when the answer was queued (headers out); 0: not yet */

	struct exchange *prev;
	struct exchange *next_in_worker;
};

/* A fresh exchange on ctx's thread for connection c, linked into ctx's list
 * of exchanges; NULL when out of memory. */
struct exchange *exchange_new(struct context *ctx, struct MHD_Connection *c);

/* Cancels what is still running and returns x to the thread's spares. */
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

/* Notes why x ends (a later reason replaces an earlier one). */
static inline void exchange_end_as(struct exchange *x, enum end_reason why)
{
	x->end = why;
}

/* Why x ended, for its log line and counter: the reason noted, or, when none
 * was, one read from its status (a status page, a refusal, an internal error). */
enum end_reason exchange_end_reason(const struct exchange *x);

/* Waits for an answer that comes later from the thread's loop; a wait past
 * 100 ms has the client's socket watched, so that a client who leaves is seen. */
void exchange_suspend(struct exchange *x);

/* Watches the client's socket for EPOLLRDHUP once the exchange has waited a
 * while (a committed stream may run for minutes, and libmicrohttpd does not
 * watch a suspended connection): a stream that ends quickly, as short answers
 * do, never pays the two epoll_ctl calls watching costs. */
void exchange_watch_client_soon(struct exchange *x);

/* True once x's answer is committed by its producer (a stream under way). */
bool exchange_committed(const struct exchange *x);

/* Ends x because its thread stops: its producer stops, a committed answer is
 * cut with an error event (cut) or dropped (cut false: the server is closing),
 * an unanswered one gets a 503. */
void exchange_shut_down(struct exchange *x, bool cut);

/* Returns the exchanges released during one loop turn to the spares (they
 * stay valid until then, as later events of the turn may name them). */
void exchange_recycle_released(struct context *ctx);

/* Frees the spare exchanges of ctx for good (the thread is ending). */
void exchange_free_spares(struct context *ctx);

/* Frees the spare exchanges of ctx past keep, once a burst is over (a burst
 * leaves up to its own cap of them, each some KiB and the body it kept).
 * Returns how many it freed. */
size_t exchange_trim_spares(struct context *ctx, size_t keep);

/* The metrics bucket of an endpoint. */
enum metrics_endpoint exchange_metrics_endpoint(enum exchange_endpoint ep);

#endif

/* attempt_loop.h — the attempt loop's own state: where one exchange stands in its route's cascade of levels and targets. */
#ifndef DETOUR_ATTEMPT_LOOP_H
#define DETOUR_ATTEMPT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "router.h"
#include "timers.h"

struct dialect;

/*
 * Embedded in the exchange and touched by the attempt loop (proxy.c) only.
 * attempt_loop_begin sets every field for a new request in one place, so an
 * exchange reused from the spares carries nothing over.
 */
struct curl_slist;

/* Calls noted without an allocation: nearly every route has one to four targets. */
#define ATTEMPT_LOOP_TRIED_INLINE 4

struct attempt_loop_tried {
	const struct config_upstream *upstream;
	const char *model;
};

/* Why a target's dialect could not say the request (the client's mistake).
 * Few requests are refused, so it is allocated when one is. */
struct attempt_loop_refusal {
	char why[320];               /* a sentence naming the upstream */
	char param[96];              /* the parameter it names; "": none */
};

struct attempt_loop {
	const struct config_route *route;
	enum config_level mode;      /* the degradation mode this request runs under */
	enum config_level level;     /* the level being tried */
	const struct config_target *targets; /* the level's targets */
	/* Calls made, so a lower level does not repeat them: a route's first few
	 * inline, the rest (a long cascade) on the heap, taken on first need. */
	struct attempt_loop_tried tried_inline[ATTEMPT_LOOP_TRIED_INLINE];
	struct attempt_loop_tried *tried_more; /* owned: ROUTER_MAX_TARGETS - ATTEMPT_LOOP_TRIED_INLINE; NULL: not needed yet */
	size_t ntried;
	size_t order[ROUTER_MAX_TARGETS];
	size_t norder;
	size_t next;                 /* position in order[] of the next target */
	bool refused[ROUTER_MAX_TARGETS];   /* by position in order[]: refused by its breaker or a hold */
	bool revisited[ROUTER_MAX_TARGETS]; /* by position: looked at again before giving up */
	bool early_done;             /* this level already asked for an early probe */
	uint64_t refused_until_ms;   /* every target refused: looks again until then; 0: has not waited */
	const struct config_target *target;
	const struct dialect *dialect; /* what the target is spoken to in (the ingress's choice) */
	bool upstream_stream;        /* the call to the upstream streams (the client may still want SSE) */
	char *upstream_body;         /* owned when the target changed the body */
	struct curl_slist *call_headers; /* owned: the call's header lines when it forwards client headers; NULL: the upstream's */
	struct buf cache_key;        /* canonical request, once computed; its memory outlives a request */
	bool probe;                  /* this call is the breaker's half-open probe */
	unsigned target_tries;       /* calls made to the current target */
	struct timer wait_timer;     /* backoff before a retry, or the wait for a refused target's verdict */
	bool holds_retry;            /* owns one unit of the retry budget */
	bool counted_active;         /* counted in runtime.requests_active */
	uint64_t earliest_retry_ms;  /* when a skipped target could next be called; 0: none */
	struct attempt_loop_refusal *refusal; /* owned: the first target's that could not say the request; NULL: none */
	size_t unsayable;            /* targets passed over because they could not say the request */
	bool native_client;          /* the call speaks the client's own API (its stream is not chat chunks) */
	bool continuing;             /* the next call continues a cut stream (streams.on_cut: continue) */
	const char *partial;         /* then, the text delivered so far (the stream's, borrowed) */
	size_t partial_len;
	unsigned continuations;      /* continuations started that count against max_continuations */
	bool resuming;               /* a continuation is under way and has not delivered its first delta */
	size_t resumed_from;         /* then, the index of the upstream whose stream broke off */
};

/* Prepares a zeroed struct once, when its exchange is first allocated. */
void attempt_loop_init(struct attempt_loop *a);

/* Sets every field for a new request (the cache key's memory is kept). */
void attempt_loop_begin(struct attempt_loop *a);

/* Frees what the request owned (the rewritten body, the call's headers); the struct stays reusable. */
void attempt_loop_end(struct attempt_loop *a);

/* Gives back cache-key memory beyond keep bytes (an exchange going to the spares). */
void attempt_loop_shrink(struct attempt_loop *a, size_t keep);

/* Frees everything (an exchange freed for good). */
void attempt_loop_free(struct attempt_loop *a);

/* Starts a level's pass over its targets: nothing refused or revisited yet. */
void attempt_loop_level_begin(struct attempt_loop *a);

/* True when the loop already called, or passed over, upstream u with model. */
bool attempt_loop_tried(const struct attempt_loop *a, const struct config_upstream *u, const char *model);

/* Notes a call to (or a pass over) u with model; past ROUTER_MAX_TARGETS the
 * note is dropped (a lower level may then repeat that call). */
void attempt_loop_note_tried(struct attempt_loop *a, const struct config_upstream *u, const char *model);

/* Keeps the first refusal of the request: "The request cannot be sent to
 * upstream {upstream}: {why}", naming param ("" for none). A later one is
 * dropped, as is the first when out of memory (attempt_loop_refusal then
 * gives a sentence of its own). */
void attempt_loop_note_refusal(struct attempt_loop *a, const char *upstream, const char *why, const char *param);

/* The refusal kept, a sentence; a generic one when none could be kept. */
const char *attempt_loop_refusal(const struct attempt_loop *a);

/* The parameter the refusal kept names, or NULL. */
const char *attempt_loop_refusal_param(const struct attempt_loop *a);

#endif

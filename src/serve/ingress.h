/* ingress.h — the client-facing side of an exchange: the API its client speaks, into which the attempt loop and the stream relay write chat answers and chunks. */
#ifndef DETOUR_INGRESS_H
#define DETOUR_INGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "dialect.h"

struct exchange;
struct upstream;

/*
 * The attempt loop speaks chat completions (and an upstream's dialect turns
 * them into its own wire format). What the client speaks is the ingress: the
 * chat ingress writes chat answers and SSE chat chunks as they are; the
 * Responses ingress (ingress_responses.c) writes `response` objects and the
 * Responses event stream. The loop and the relay call these functions and
 * never ask which API the client used. An exchange's ingress is set by the
 * endpoint that starts it (NULL: chat); its state, if any, is the ingress's.
 */

/* What one chunk written through an ingress meant to the client. */
enum ingress_shown {
	INGRESS_HELD,   /* nothing the client would show yet (the relay may still fall over) */
	INGRESS_SHOWN,  /* output the client will show: the commit point may come */
	INGRESS_BROKEN, /* it could not be written (a cap passed, not a chunk): the attempt ends */
};

struct ingress {
	const char *name;

	/* The dialect that serves x on upstream u, with the URL it is called
	 * at and the client's request for a dialect that speaks the client's API
	 * (*client NULL otherwise); NULL with why filled when u cannot serve
	 * what x asks (the client's mistake: the target is passed over, and a
	 * 400 comes when none can). */
	const struct dialect *(*target)(struct exchange *x, const struct upstream *u, const char **url,
					const json_t **client, char *why, size_t whylen);

	/* True when the current attempt's answer is a chat completion the cache may keep. */
	bool (*cacheable)(const struct exchange *x);

	/* A whole 2xx answer (owned *body, *len bytes) in the client's format:
	 * on 0 *body, *len and *content_type (static) are replaced; on -1 they
	 * are as they were (the answer goes as it came). */
	int (*whole)(struct exchange *x, char **body, size_t *len, const char **content_type);

	/* A stream: begin once per attempt (its bytes are held until the commit
	 * point); then each chat chunk (or the target dialect's own event when it
	 * speaks the client's API); done once the upstream told the whole answer;
	 * fail once a committed stream breaks off (code, message for the client,
	 * upstream NULL or its name). Each appends whole SSE frames to out. */
	int (*stream_begin)(struct exchange *x, struct buf *out);
	enum ingress_shown (*stream_chunk)(struct exchange *x, const char *chunk, size_t len, struct buf *out);
	int (*stream_done)(struct exchange *x, struct buf *out);
	int (*stream_fail)(struct exchange *x, const char *code, const char *message, const char *upstream,
			   struct buf *out);

	/* Frees x's ingress state (the exchange ends). */
	void (*release)(struct exchange *x);
};

/* Chat completions, as the client sent them. */
extern const struct ingress ingress_chat;

/* x's ingress (chat when none was set). */
const struct ingress *ingress_of(const struct exchange *x);

/* Frees x's ingress state and forgets the ingress; safe to call twice. */
void ingress_release(struct exchange *x);

#endif

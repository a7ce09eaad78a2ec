/* dialect.h — how one upstream wire format is spoken: the interface every dialect implements. */
#ifndef DETOUR_DIALECT_H
#define DETOUR_DIALECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "refusal.h"
#include "request.h"
#include "sse.h"

/*
 * detour speaks OpenAI's chat completions API to its clients. A dialect is
 * what an upstream speaks instead, and everything the attempt loop and the
 * stream relay need to talk to it: they call these functions and never ask
 * which provider an upstream is. Adding an upstream format (Azure, Bedrock,
 * the Responses API) is one more struct dialect and one more row in
 * dialect_table_for's table. A client-facing dialect (a Responses API endpoint)
 * would be the same functions run the other way (its requests into chat
 * requests, chat answers and chunks into its own); the chunk emitter and the
 * SSE writer below are shared for that reason.
 *
 * Every function is pure (bytes in, bytes out) and thread-safe; a stream's
 * state lives in memory the caller owns (stream_size bytes).
 */

/* What building an upstream request came to. */
enum dialect_built {
	DIALECT_FAILED = -1,  /* out of memory: detour's fault, not the client's */
	DIALECT_BUILT = 0,    /* *body is ready (NULL: the client's bytes go as they are) */
	DIALECT_REFUSED = 1,  /* the request cannot be said in this dialect: the client's mistake, the refusal says which */
};

/* What one call to a target asks of its upstream. */
struct dialect_call {
	struct request *request;                /* the client's, parsed (request_json may be called) */
	const struct request_changes *changes;  /* what the target and the degradation level change */
	const struct config_upstream *upstream;
	bool stream;                            /* ask the upstream for a stream */
	const json_t *client;                   /* the client's own request when the dialect speaks the
						 * client's API (Responses, previous_response_id expanded);
						 * NULL otherwise */
	const char *partial;                    /* a continuation: the answer's text delivered so far
						 * (partial_len bytes), to be continued; NULL otherwise */
	size_t partial_len;
};

/* What a whole answer (or error body) came to. */
enum dialect_answer {
	DIALECT_BROKEN = -1,  /* not an answer in this dialect: the upstream's fault */
	DIALECT_SAME = 0,     /* already OpenAI's shape: pass it on as it is */
	DIALECT_MADE = 1,     /* the OpenAI shape was appended to out */
};

/* What one upstream stream event meant to the relay. */
enum dialect_event {
	DIALECT_EVENT_NONE,     /* nothing the client would show yet (the relay keeps holding) */
	DIALECT_EVENT_CONTENT,  /* chunks the client will show were emitted: the commit point */
	DIALECT_EVENT_FINISH,   /* as CONTENT, and a chunk carried a finish_reason */
	DIALECT_EVENT_DONE,     /* the stream is whole: the relay writes [DONE] */
	DIALECT_EVENT_ERROR,    /* an error event, or an event not understood; words say which */
};

/* Receives each OpenAI chat.completion.chunk, as JSON; returns 0, or -1 when it could not take it. */
typedef int (*dialect_emit)(void *arg, const char *chunk, size_t len);

/* Receives one header line ("Name: value") for the upstream's requests. */
typedef void (*dialect_header)(void *arg, const char *line);

struct dialect {
	const char *name;

	/* The client headers meant for this kind of provider, sent on unless the
	 * upstream's forward_headers replaces the list; NULL-terminated. */
	const char *const *forward_headers;

		/* NULL when an upstream of this dialect serves kind; else why not, a whole
	 * sentence naming the endpoint (for the attempts, and the 400 when no target serves it). */
	const char *(*unsupported)(enum request_kind kind);

	/* The path under base_url that serves kind (for a kind it serves). */
	const char *(*path)(enum request_kind kind);

	/* Gives add the headers that authenticate to cfg's upstream (its key,
	 * a version); the lines are wiped once added. */
	void (*headers)(const struct config_upstream *cfg, dialect_header add, void *arg);

	/* The body for one call, as a new string the caller frees (*body NULL:
	 * send the client's bytes). DIALECT_REFUSED fills no: a whole sentence
	 * and, when one is at fault, the parameter (for a 400). */
	enum dialect_built (*request)(const struct dialect_call *call, char **body, size_t *len, struct refusal *no);

	/* A 2xx answer's body (status) as a chat completion (created_unix for
	 * answers that carry no time); DIALECT_BROKEN fills why. */
	enum dialect_answer (*answer)(unsigned status, const char *body, size_t len, uint64_t created_unix,
				      struct buf *out, char *why, size_t whylen);

	/* An error answer's body as OpenAI's error shape; DIALECT_BROKEN: pass it on as it is. */
	enum dialect_answer (*error)(unsigned status, const char *body, size_t len, struct buf *out);

	/* A streamed answer: state of stream_size bytes, set up by stream_init,
	 * then each upstream SSE event in order. Chunks go to emit; on
	 * DIALECT_EVENT_ERROR words says what went wrong (the upstream's text:
	 * the caller redacts it). */
	size_t stream_size;
	/* Every chunk stream_event gives emit is one JSON value jsonscan_valid
	 * accepts (the dialect checked the upstream's bytes itself), so the
	 * relay need not check it again. */
	bool stream_chunks_valid;
	void (*stream_init)(void *state, uint64_t created_unix, bool include_usage);
	enum dialect_event (*stream_event)(void *state, const struct sse_event *ev, dialect_emit emit, void *arg,
					   char *words, size_t wlen);
};

#endif

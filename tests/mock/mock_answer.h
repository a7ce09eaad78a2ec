/* mock_answer.h — an answer and what it is built from: the layouts the server, the dialects and the stream writer share. */
#ifndef DETOUR_MOCK_ANSWER_H
#define DETOUR_MOCK_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Largest answer the mock writes; content is capped far below, so only a bug reaches it. */
#define MOCK_ANSWER_MAX (64u << 20)

/*
 * Where an SSE event stands, for the stream faults: they count CONTENT events
 * (text or tool-argument pieces) and act only in front of an event that is not
 * PREAMBLE, so the opening events (role, message_start, ...) always go out.
 */
enum mock_event_kind {
	MOCK_EVENT_PREAMBLE,
	MOCK_EVENT_CONTENT,
	MOCK_EVENT_FRAME,   /* any other: finish, usage, block stop, [DONE] */
};

/* One event: a span of mock_answer.text. */
struct mock_event {
	size_t offset;
	size_t len;
	enum mock_event_kind kind;
};

/* Room for the configured answer headers (MOCK_FAULT_SET_HEADERS_MAX) plus the mock's own. */
#define MOCK_ANSWER_HEADERS 16

struct mock_header {
	char name[64];
	char value[192];
};

/*
 * What to send. A plain answer is text itself; a stream (stream == true) is the
 * events, spans of text in order, plus two spare events the stream faults send
 * instead of the rest: error_event and malformed_event (len 0 when the dialect
 * built none).
 */
struct mock_answer {
	unsigned status;
	const char *content_type;   /* static */
	bool stream;
	struct buf text;
	struct mock_event *events;
	size_t n_events;
	size_t cap_events;
	struct mock_event error_event;
	struct mock_event malformed_event;
	struct mock_header headers[MOCK_ANSWER_HEADERS];
	size_t n_headers;
	bool failed;                /* an event could not be recorded; text.failed covers the rest */
};

/* A request as the dialects see it: borrowed pointers, NULL for an absent header. */
struct mock_call {
	const char *method;
	const char *path;
	const char *body;
	size_t body_len;
	const char *authorization;
	const char *x_api_key;
	const char *anthropic_version;
};

/* How to answer, beyond the request: the mock's settings with the faults' content and chunks applied. */
struct mock_reply {
	const char *name;
	const char *content;
	size_t chunks;                 /* content pieces in a stream, >= 1 */
	unsigned long long seq;        /* this answer's number, for ids */
	long long created;             /* unix seconds */
	const char *api_key;           /* NULL: no authentication */
	char *const *models;
	size_t n_models;
	const char *thinking;          /* NULL, or a thinking block's text (Anthropic) */
	long long cache_read;          /* Anthropic usage: cache_read_input_tokens, 0 none */
	long long cache_creation;      /* Anthropic usage: cache_creation_input_tokens, 0 none */
	size_t tool_calls;             /* tool_use blocks in a tool answer (Anthropic), >= 1 */
};

/* An API dialect (OpenAI, Anthropic): pure builders, no I/O. */
struct mock_dialect {
	/* Routes call and writes its answer (an error answer included) into a fresh answer. */
	void (*answer)(struct mock_answer *a, const struct mock_call *call, const struct mock_reply *r);
	/* Writes an error answer with status and message, in the dialect's error shape. */
	void (*error)(struct mock_answer *a, unsigned status, const char *message);
};

/* Starts an empty 200 application/json answer. */
void mock_answer_init(struct mock_answer *a);

/* Frees text and events; the answer must be initialised again before reuse. */
void mock_answer_free(struct mock_answer *a);

/* Drops everything written so far (text, events, headers): for an error found half-way. */
void mock_answer_clear(struct mock_answer *a);

/* Records text[start..len) as the next event of the stream. */
void mock_answer_event(struct mock_answer *a, size_t start, enum mock_event_kind kind);

/* Records text[start..len) as a spare event (error_event or malformed_event), outside the sequence. */
void mock_answer_spare(struct mock_answer *a, struct mock_event *spare, size_t start);

/* Adds a response header; name and value are copied (cut at 63 and 191 bytes). Past MOCK_ANSWER_HEADERS it is dropped. */
void mock_answer_header(struct mock_answer *a, const char *name, const char *value);

/* True when building ran out of room: the answer must not be sent. */
bool mock_answer_failed(const struct mock_answer *a);

/*
 * Cuts text into at most parts pieces of near-equal size for a stream, never
 * inside a UTF-8 sequence and never empty (a text shorter than parts gives one
 * piece per character; an empty text gives one empty piece). Use:
 *   struct mock_answer_split s; size_t off, n;
 *   mock_answer_split_init(&s, text, len, parts);
 *   while (mock_answer_split_next(&s, &off, &n)) ...
 */
struct mock_answer_split {
	const char *text;
	size_t len;
	size_t parts;
	size_t i;
	size_t start;
	bool done;
};

void mock_answer_split_init(struct mock_answer_split *s, const char *text, size_t len, size_t parts);
bool mock_answer_split_next(struct mock_answer_split *s, size_t *offset, size_t *n);

/* Whitespace-separated words in text, at least 1: the mock's completion token count. */
size_t mock_answer_words(const char *text);

#endif

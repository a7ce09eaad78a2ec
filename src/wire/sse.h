/* sse.h — server-sent events both ways: a parser (bytes in, whole events out, however the bytes were split) and the one writer of SSE frames. */
#ifndef DETOUR_SSE_H
#define DETOUR_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* An event larger than this is refused (SSE_TOO_LARGE). */
#define SSE_MAX_EVENT (1024 * 1024)

struct sse_event {
	const char *name;     /* the "event:" field; "" when absent */
	size_t name_len;
	const char *data;     /* "data:" lines joined with \n; not NUL-terminated */
	size_t data_len;
	const char *raw;      /* the event's bytes as received, blank line included */
	size_t raw_len;
};

/* Returns 0 to go on, anything else to stop sse_feed (which returns it). */
typedef int (*sse_handler)(void *arg, const struct sse_event *ev);

enum sse_result {
	SSE_OK = 0,
	SSE_TOO_LARGE = -1,   /* an event passed SSE_MAX_EVENT, or memory ran out */
};

struct sse_parser {
	struct buf pending;   /* an event begun but not ended */
	struct buf data;      /* joined data lines, when there are several */
	char name[64];
};

void sse_init(struct sse_parser *p);
void sse_reset(struct sse_parser *p);   /* forget a partial event, keep memory */
void sse_free(struct sse_parser *p);

/*
 * Feeds bytes; calls handler for each event they complete, in order. Lines end
 * with \n or \r\n (a lone \r is not a line end: no LLM API sends one). Comments
 * (":...") and fields other than data and event are skipped; an event without
 * data is not reported. Returns SSE_OK, SSE_TOO_LARGE, or the handler's stop value.
 */
int sse_feed(struct sse_parser *p, const char *bytes, size_t len, sse_handler handler, void *arg);

/* True when bytes of an unfinished event are held (the stream was cut mid-event). */
bool sse_partial(const struct sse_parser *p);

/*
 * The writer: every SSE byte detour sends a client is framed here. Each
 * appends one whole frame to out, or nothing (returning -1) when out is full.
 */

/* "data: <data>\n\n"; data holding newlines is split into one data line per
 * line, so a reader joins it back exactly. */
int sse_write_data(struct buf *out, const char *data, size_t len);

/* "event: <name>\ndata: <data>\n\n": a named event (the Responses API names
 * each one); name holds no newline, data is split as for sse_write_data. */
int sse_write_event(struct buf *out, const char *name, const char *data, size_t len);

/* "data: [DONE]\n\n", the end of an OpenAI stream. */
int sse_write_done(struct buf *out);

/* ": <text>\n\n", a comment every reader skips (a heartbeat); text holds no newline. */
int sse_write_comment(struct buf *out, const char *text);

#endif

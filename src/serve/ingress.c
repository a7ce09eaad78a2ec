/* ingress.c — the client-facing side of an exchange: the interface, and the chat completions ingress (answers and SSE chunks written as they are). */
#include "ingress.h"

#include <stdlib.h>
#include <string.h>

#include "apierror.h"
#include "completion.h"
#include "exchange.h"
#include "sse.h"
#include "upstream.h"

static const struct dialect *ingress_chat_target(struct exchange *x, const struct upstream *u, const char **url,
						 const json_t **client, char *why, size_t whylen)
{
	*client = NULL;
	(void)why;
	(void)whylen;
	*url = upstream_url(u, x->request.kind);
	return u->dialect;
}

static bool ingress_chat_cacheable(const struct exchange *x)
{
	return x->request.kind == REQUEST_CHAT;
}

/* A client that asked to stream from an upstream that did not (a dropped
 * stream, a cached or offline answer) gets the SSE stream it would have been. */
static int ingress_chat_whole(struct exchange *x, char **body, size_t *len, const char **content_type)
{
	struct buf sse;

	if (!x->request.stream)
		return -1;
	buf_init(&sse, 2 * *len + 64 * 1024);
	if (completion_to_sse(*body, *len, x->request.include_usage, &sse) != 0) {
		buf_free(&sse);
		return -1;
	}
	free(*body);
	*body = buf_take(&sse, len);
	*content_type = "text/event-stream";
	return 0;
}

static int ingress_chat_stream_begin(struct exchange *x, struct buf *out)
{
	(void)x;
	(void)out;
	return 0;
}

static enum ingress_shown ingress_chat_stream_chunk(struct exchange *x, const char *chunk, size_t len, struct buf *out)
{
	(void)x;
	/* Whether it shows is the upstream dialect's call (it saw the event). */
	return sse_write_data(out, chunk, len) == 0 ? INGRESS_SHOWN : INGRESS_BROKEN;
}

static int ingress_chat_stream_done(struct exchange *x, struct buf *out)
{
	(void)x;
	return sse_write_done(out);
}

/* An error event and [DONE]: a stream never just stops. */
static int ingress_chat_stream_fail(struct exchange *x, const char *code, const char *message, const char *upstream,
				    struct buf *out)
{
	struct buf b;
	int rc = 0;

	(void)x;
	buf_init(&b, 4096);
	rc |= apierror_open(&b, message, "upstream_error", NULL, code);
	if (upstream != NULL) {
		rc |= buf_append_str(&b, ",\"upstream\":");
		rc |= buf_append_json_string(&b, upstream);
	}
	rc |= buf_append_str(&b, "}}");
	if (rc == 0)
		rc = sse_write_data(out, b.data, b.len);
	rc |= sse_write_done(out);
	buf_free(&b);
	return rc != 0 ? -1 : 0;
}

static void ingress_chat_release(struct exchange *x)
{
	(void)x;
}

const struct ingress ingress_chat = {
	.name = "chat",
	.target = ingress_chat_target,
	.cacheable = ingress_chat_cacheable,
	.whole = ingress_chat_whole,
	.stream_begin = ingress_chat_stream_begin,
	.stream_chunk = ingress_chat_stream_chunk,
	.stream_done = ingress_chat_stream_done,
	.stream_fail = ingress_chat_stream_fail,
	.release = ingress_chat_release,
};

const struct ingress *ingress_of(const struct exchange *x)
{
	return x->ingress != NULL ? x->ingress : &ingress_chat;
}

void ingress_release(struct exchange *x)
{
	if (x->ingress != NULL)
		x->ingress->release(x);
	x->ingress = NULL;
	x->ingress_state = NULL;
}

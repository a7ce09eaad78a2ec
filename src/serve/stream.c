/* stream.c — a streamed answer: the upstream's SSE parsed, held back until the commit point, then relayed to the client under backpressure. */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "invariant.h"
#include "clock.h"
#include "completion.h"
#include "dialect.h"
#include "context.h"
#include "exchange.h"
#include "ingress.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "seam.h"
#include "sse.h"
#include "upstream.h"
#include "usage.h"

/* The block libmicrohttpd allocates (zeroed) with every stream's response.
 * A chunked answer (HTTP/1.1) is written straight into the connection's own
 * buffer and never uses it; only an HTTP/1.0 client's answer goes through
 * it, a block at a time. SSE events are a few hundred bytes. */
#define STREAM_BLOCK 512

/* sse_feed's handler stops the feed with this when the attempt must end. */
#define STREAM_STOP 1

/* Where a stream is in its life. */
enum stream_phase {
	STREAM_HOLD,   /* before the commit point: events are held, the attempt may still fall over */
	STREAM_RELAY,  /* committed: the headers went out, events flow to the client */
	STREAM_ENDED,  /* out is complete: nothing more will be added */
};

/* Why an attempt's stream ended (or is ending). */
enum stream_end {
	STREAM_END_NONE,       /* not yet */
	STREAM_END_WHOLE,      /* the upstream told the whole answer */
	STREAM_END_FAILED,     /* the attempt failed inside the stream (fail_error, fail_text) */
	STREAM_END_ABANDONED,  /* the client left */
	STREAM_END_CUT,        /* detour ended it with an error event (shutdown, a broken transfer) */
};

struct stream {
	struct sse_parser parser;
	struct buf out;          /* bytes for the client not yet handed to libmicrohttpd */
	size_t out_pos;
	struct buf raw;          /* a non-SSE answer (an error body), kept whole */
	enum stream_phase phase;
	enum stream_end end;
	bool sse;                /* the answer is text/event-stream */
	bool finish_seen;        /* a chunk carried a finish_reason */
	bool shown;              /* the ingress wrote output the client will show: the commit point may come */
	bool done_seen;          /* the upstream said the stream is whole */
	bool paused;             /* the upstream transfer waits for the client */
	bool waiting;            /* the client connection is suspended for want of bytes */
	enum engine_error fail_error;
	char fail_text[200];
	struct timer heartbeat;
	struct timer unpause;
	uint64_t last_sent_ms;
	const struct dialect *dialect; /* the upstream's, which turns its events into chunks */
	void *state;             /* the dialect's translation state */
	size_t state_size;
	bool collect;            /* gather the chunks into a whole answer (for the cache) */
	size_t collect_limit;    /* ...until this many bytes of chunks came */
	size_t collected;
	struct completion_builder builder;
	const struct stream_owner *owner;
	const struct engine_response *answer; /* the transfer's, from its headers to its end; NULL before */
	bool continuable;        /* a cut after the commit point goes to the owner's cut */
	struct seam *seam;       /* then, what makes the upstreams' chunks one stream (owned,
				  * taken by the first stream allowed to continue: most never are) */
	struct buf seamed;       /* a chunk the seam rewrote */
};

static size_t stream_backlog(const struct stream *s)
{
	return s->out.len - s->out_pos;
}

/* Makes room for len more bytes in out: the consumed front is dead weight,
 * dropped before out grows. */
static void stream_room(struct stream *s, size_t len)
{
	if (s->out_pos > 0 && s->out_pos == s->out.len) {
		buf_reset(&s->out);
		s->out_pos = 0;
	} else if (s->out_pos > 0 && s->out.len + len > s->out.cap) {
		memmove(s->out.data, s->out.data + s->out_pos, s->out.len - s->out_pos);
		s->out.len -= s->out_pos;
		s->out_pos = 0;
	}
}

/* Lets libmicrohttpd at the bytes (or the end) once the reader waited for them. */
static void stream_wake(struct exchange *x)
{
	struct stream *s = x->stream;

	if (!s->waiting)
		return;
	s->waiting = false;
	MHD_resume_connection(x->connection);
	context_server_due(x->ctx);
}

/* Appends the ingress's error ending (chat: an error event and [DONE]): a stream never just stops. */
static void stream_append_error(struct exchange *x, enum stream_end why, const char *code, const char *message,
				const char *upstream)
{
	struct stream *s = x->stream;

	stream_room(s, 64 * 1024);
	ingress_of(x)->stream_fail(x, code, message, upstream, &s->out);
	s->phase = STREAM_ENDED;
	if (s->end == STREAM_END_NONE)
		s->end = why;
}

ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct exchange *x = cls;
	struct stream *s = x->stream;
	size_t avail = stream_backlog(s), n;

	(void)pos;
	/* libmicrohttpd reads only the answer queued at the commit point. */
	DETOUR_ASSERT(s->phase != STREAM_HOLD);
	if (s->end == STREAM_END_ABANDONED)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (avail > 0) {
		n = avail < max ? avail : max;
		memcpy(out, s->out.data + s->out_pos, n);
		s->out_pos += n;
		x->bytes_out += n;
		s->last_sent_ms = clock_now_ms();
		if (s->paused && stream_backlog(s) < STREAM_LOW_WATER && !timer_armed(&s->unpause))
			timers_arm(&x->ctx->timers, &s->unpause, s->last_sent_ms);
		return (ssize_t)n;
	}
	if (s->phase == STREAM_ENDED)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Nothing to send yet: returning 0 without suspending would spin. An open
	 * stream spends nearly all its life here, between two events, so the
	 * drained buffer goes back (the next event takes one again): thousands
	 * of streams do not each pin the largest event they relayed. */
	buf_free(&s->out);
	s->out_pos = 0;
	s->waiting = true;
	MHD_suspend_connection(x->connection);
	DETOUR_ASSERT(s->waiting && s->phase != STREAM_ENDED);
	return 0;
}

/* Unpausing may deliver held data at once, so it runs from the loop, not from inside libmicrohttpd. */
static void stream_unpause_fire(struct timer *t)
{
	struct exchange *x = t->arg;
	struct stream *s = x->stream;

	if (s->paused && x->transfer != NULL) {
		s->paused = false;
		x->ctx->engine_ops->unpause(x->transfer);
	}
}

static void stream_heartbeat_fire(struct timer *t)
{
	struct exchange *x = t->arg;
	struct stream *s = x->stream;
	uint64_t every = x->ctx->rt->cfg->server.sse_heartbeat_ms, now = clock_now_ms();

	if (s->phase == STREAM_ENDED)
		return;
	/* A comment line: clients ignore it, and a write to a vanished client fails. */
	if (now >= s->last_sent_ms + every && stream_backlog(s) == 0) {
		stream_room(s, 16);
		sse_write_comment(&s->out, "keep-alive");
		s->last_sent_ms = now;
		stream_wake(x);
	}
	timers_arm(&x->ctx->timers, &s->heartbeat, s->last_sent_ms + every);
}

/* The commit point: the answer's headers and the events held so far go to the client. */
static void stream_commit(struct exchange *x, const struct engine_response *from, uint64_t now)
{
	struct stream *s = x->stream;
	struct MHD_Response *r;

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, x, NULL);
	attempts_add_answer(&x->attempts, x->upstream->cfg->name, 200,
			    now - (x->transfer_started_ms != 0 ? x->transfer_started_ms : now));
	s->phase = STREAM_RELAY;
	s->last_sent_ms = now;
	x->answered_by = x->upstream->cfg->name;
	/* From here the high-water mark and curl's pause bound it, not a cap. */
	s->out.max = SIZE_MAX;
	if (r != NULL) {
		MHD_add_response_header(r, "Content-Type", "text/event-stream");
		MHD_add_response_header(r, "Cache-Control", "no-cache");
		MHD_add_response_header(r, "X-Accel-Buffering", "no");
		s->owner->commit(x, r, from);
	}
	exchange_answer(x, 200, r);
	exchange_watch_client_soon(x);
	if (x->ctx->rt->cfg->server.sse_heartbeat_ms > 0)
		timers_arm(&x->ctx->timers, &s->heartbeat, now + x->ctx->rt->cfg->server.sse_heartbeat_ms);
}

/* Gives one chunk to the cache's copy of the answer, until the copy would be
 * too big to keep; valid: the chunk is jsonscan-valid already. */
static void stream_collect(struct stream *s, const char *chunk, size_t len, bool valid)
{
	s->collected += len;
	if (s->collected <= s->collect_limit) {
		if (valid)
			completion_builder_add_valid(&s->builder, chunk, len);
		else
			completion_builder_add(&s->builder, chunk, len);
		return;
	}
	completion_builder_free(&s->builder);
	completion_builder_init(&s->builder);
	s->collect = false;
}

/* Gives the chunk to the cache's copy masked as the upstream's key would be
 * masked: copied only when it holds the key (nearly never). Returns 0, or -1
 * when memory runs out. */
static int stream_collect_redacted(struct exchange *x, const char *chunk, size_t len, bool valid)
{
	char *copy;

	if (!upstream_redacts(x->upstream, chunk, len)) {
		stream_collect(x->stream, chunk, len, valid);
		return 0;
	}
	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, chunk, len);
	upstream_redact_bytes(x->upstream, copy, len);
	stream_collect(x->stream, copy, len, false);
	free(copy);
	return 0;
}

/* The attempt ends inside the stream: before the commit it falls over, after it the client is told. */
static int stream_fail(struct exchange *x, enum engine_error error, const char *words)
{
	struct stream *s = x->stream;

	s->end = STREAM_END_FAILED;
	s->fail_error = error;
	snprintf(s->fail_text, sizeof s->fail_text, "%s", words);
	/* The words may be the upstream's own, from an error event. */
	upstream_redact(x->upstream, s->fail_text);
	/* A stream that may continue says nothing yet: the owner decides once the call ended. */
	if (s->phase == STREAM_RELAY && !s->continuable)
		stream_append_error(x, STREAM_END_FAILED, "stream_interrupted", s->fail_text, x->upstream->cfg->name);
	return STREAM_STOP;
}

/* Counts the tokens of a chunk that carries usage (OpenAI's with
 * include_usage, or the one a translation writes), by this call's upstream and
 * model: before the seam, which sums the upstreams' usage for the client. */
static void stream_count_usage(struct exchange *x, const char *chunk, size_t len)
{
	struct usage usage;

	if (usage_of_chunk(chunk, len, &usage))
		metrics_tokens(x->ctx->metrics, x->upstream->cfg->index, x->asked_model, usage.prompt,
			       usage.completion, usage.cached);
}

/* Takes one OpenAI chunk from the dialect: written for the client by its
 * ingress, without the upstream's key, and to the cache's copy. */
static int stream_emit(void *arg, const char *chunk, size_t len)
{
	struct exchange *x = arg;
	struct stream *s = x->stream;
	bool valid = s->dialect->stream_chunks_valid;
	size_t at;

	stream_count_usage(x, chunk, len);
	if (s->continuable) {
		bool was_shown = s->seam->shown;
		enum seam_result seamed;

		buf_reset(&s->seamed);
		seamed = seam_chunk(s->seam, chunk, len, &s->seamed);
		if (!was_shown && s->seam->shown && s->seam->segment > 0)
			s->owner->resumed(x);
		switch (seamed) {
		case SEAM_PASS:
			break;
		case SEAM_REWRITTEN:
			chunk = s->seamed.data;
			len = s->seamed.len;
			valid = false;
			break;
		case SEAM_DROP:
			return 0;
		case SEAM_FAILED:
			return -1;
		}
	}
	/* The cache keeps the chunk as the upstream's dialect made it, redacted. */
	if (s->collect && stream_collect_redacted(x, chunk, len, valid) != 0)
		return -1;
	stream_room(s, 2 * len + 1024);
	at = s->out.len;
	switch (ingress_of(x)->stream_chunk(x, chunk, len, &s->out)) {
	case INGRESS_SHOWN:
		s->shown = true;
		break;
	case INGRESS_HELD:
		break;
	case INGRESS_BROKEN:
		return -1;
	}
	upstream_redact_bytes(x->upstream, s->out.data + at, s->out.len - at);
	return 0;
}

static int stream_on_event(void *arg, const struct sse_event *ev)
{
	struct exchange *x = arg;
	struct stream *s = x->stream;
	char words[200];

	switch (s->dialect->stream_event(s->state, ev, stream_emit, x, words, sizeof words)) {
	case DIALECT_EVENT_NONE:
		return 0;
	case DIALECT_EVENT_FINISH:
		s->finish_seen = true;
		break;
	case DIALECT_EVENT_CONTENT:
		break;
	case DIALECT_EVENT_DONE:
		/* A stream that may continue and ends without a finish is cut short, not whole. */
		if (s->continuable && s->phase == STREAM_RELAY && !s->finish_seen && !s->seam->finished)
			return stream_fail(x, ENGINE_PROTOCOL, "the stream ended without a finish reason");
		s->done_seen = true;
		stream_room(s, 64 * 1024);
		if (ingress_of(x)->stream_done(x, &s->out) != 0)
			return stream_fail(x, ENGINE_TOO_LARGE, "stream held more than detour buffers");
		return 0;
	case DIALECT_EVENT_ERROR:
		return stream_fail(x, ENGINE_PROTOCOL, words);
	}
	if (s->phase == STREAM_HOLD && s->shown)
		stream_commit(x, s->answer, clock_now_ms());
	return 0;
}

static void stream_on_headers(void *arg, const struct engine_response *r)
{
	struct exchange *x = arg;
	struct stream *s = x->stream;

	s->answer = r;
	s->sse = r->status >= 200 && r->status < 300 &&
		 strncmp(r->content_type, "text/event-stream", 17) == 0;
}

static enum engine_data_result stream_on_data(void *arg, const char *data, size_t len)
{
	struct exchange *x = arg;
	struct stream *s = x->stream;
	int rc;

	if (!s->sse) {
		if (buf_append(&s->raw, data, len) != 0) {
			stream_fail(x, ENGINE_TOO_LARGE, "answer larger than max_response");
			return ENGINE_DATA_ABORT;
		}
		return ENGINE_DATA_OK;
	}
	if (s->phase == STREAM_ENDED)
		return ENGINE_DATA_ABORT;
	if (s->phase == STREAM_RELAY && stream_backlog(s) >= STREAM_HIGH_WATER) {
		s->paused = true;
		return ENGINE_DATA_PAUSE;
	}
	rc = sse_feed(&s->parser, data, len, stream_on_event, x);
	if (rc == SSE_TOO_LARGE)
		stream_fail(x, ENGINE_PROTOCOL, "stream event larger than 1 MiB");
	if (s->phase != STREAM_HOLD)
		stream_wake(x);
	return rc == SSE_OK ? ENGINE_DATA_OK : ENGINE_DATA_ABORT;
}

/* The upstream sent its whole stream: [DONE] or a finish, and no event cut in two. */
static bool stream_whole(const struct stream *s)
{
	return (s->done_seen || s->finish_seen) && !sse_partial(&s->parser);
}

/* Ends the client's stream after a whole one, adding the [DONE] the upstream left out. */
static void stream_end_whole(struct exchange *x, struct engine_response *r)
{
	struct stream *s = x->stream;

	if (!s->done_seen) {
		stream_room(s, 64 * 1024);
		ingress_of(x)->stream_done(x, &s->out);
	}
	s->phase = STREAM_ENDED;
	s->end = STREAM_END_WHOLE;
	s->owner->ended(x, r, false, NULL);
}

/* The transfer ended before the commit point: settle it like any attempt. */
static void stream_settle_uncommitted(struct exchange *x, struct engine_response *r)
{
	struct stream *s = x->stream;
	struct buf swap;

	if (r->error == ENGINE_OK && s->sse) {
		if (stream_whole(s)) {
			/* A whole stream without content (an empty answer) is still an answer. */
			stream_commit(x, r, clock_now_ms());
			stream_end_whole(x, r);
			stream_wake(x);
			return;
		}
		r->error = ENGINE_PROTOCOL;
		snprintf(r->error_text, sizeof r->error_text, "stream ended before its first content chunk");
	}
	/* A non-SSE answer (an error page, or JSON) was kept whole: settle it as a body. */
	swap = r->body;
	r->body = s->raw;
	s->raw = swap;
	s->owner->settle(x, r);
}

/* Asks the owner to continue a cut stream; true when a call goes on with it. */
static bool stream_continue(struct exchange *x, const struct engine_response *r, bool failed)
{
	struct stream *s = x->stream;
	char words[sizeof s->fail_text];

	if (failed)
		snprintf(words, sizeof words, "%s", s->fail_text);
	else
		snprintf(words, sizeof words, "%s", r->error != ENGINE_OK ? r->error_text : "the upstream ended the stream early");
	upstream_redact(x->upstream, words);
	return s->owner->cut(x, r, words);
}

static void stream_on_done(void *arg, struct engine_response *r)
{
	struct exchange *x = arg;
	struct stream *s = x->stream;
	bool failed = s->end == STREAM_END_FAILED;

	x->transfer = NULL;
	if (failed) {
		r->error = s->fail_error;
		snprintf(r->error_text, sizeof r->error_text, "%s", s->fail_text);
	}
	if (s->phase == STREAM_HOLD) {
		stream_settle_uncommitted(x, r);
		return;
	}
	if (s->continuable && s->phase == STREAM_RELAY && (failed || r->error != ENGINE_OK || !stream_whole(s)) &&
	    stream_continue(x, r, failed)) {
		stream_wake(x);
		return;
	}
	if (failed) {
		if (s->continuable && s->phase == STREAM_RELAY)
			stream_append_error(x, STREAM_END_FAILED, "stream_interrupted", s->fail_text,
					    x->upstream->cfg->name);
		s->owner->ended(x, r, true, s->fail_text);
	} else if (r->error == ENGINE_OK && stream_whole(s)) {
		stream_end_whole(x, r);
	} else {
		const char *words = r->error != ENGINE_OK ? r->error_text : "the upstream ended the stream early";
		char message[320];

		snprintf(message, sizeof message, "upstream %s broke off the stream: %s", x->upstream->cfg->name, words);
		stream_append_error(x, STREAM_END_CUT, "stream_interrupted", message, x->upstream->cfg->name);
		if (r->error == ENGINE_OK)
			r->error = ENGINE_PROTOCOL;
		s->owner->ended(x, r, true, words);
	}
	stream_wake(x);
}

const struct engine_handlers stream_handlers = {
	.on_headers = stream_on_headers,
	.on_data = stream_on_data,
	.on_done = stream_on_done,
};

/* The translation state for u's dialect, reusing the last attempt's memory when it fits. */
static int stream_dialect_begin(struct exchange *x, struct stream *s, const struct dialect *d)
{
	if (s->state_size < d->stream_size) {
		free(s->state);
		s->state_size = 0;
		if ((s->state = malloc(d->stream_size)) == NULL)
			return -1;
		s->state_size = d->stream_size;
	}
	s->dialect = d;
	d->stream_init(s->state, clock_wall_ms() / 1000, x->request.include_usage);
	return 0;
}

int stream_attempt_begin(struct exchange *x, const struct dialect *d, size_t collect_limit,
			 const struct stream_owner *owner)
{
	struct stream *s = x->stream;

	if (s == NULL) {
		s = calloc(1, sizeof *s);
		if (s == NULL)
			return -1;
		sse_init(&s->parser);
		buf_init(&s->out, 0);
		buf_init(&s->raw, 0);
		completion_builder_init(&s->builder);
		s->seam = NULL;
		buf_init(&s->seamed, 0);
		x->stream = s;
	}
	if (s->continuable) {
		seam_free(s->seam);
		seam_init(s->seam);
		s->continuable = false;
	}
	completion_builder_free(&s->builder);
	completion_builder_init(&s->builder);
	if (stream_dialect_begin(x, s, d) != 0)
		return -1;
	s->owner = owner;
	s->answer = NULL;
	s->collect = collect_limit > 0;
	s->collect_limit = collect_limit;
	s->collected = 0;
	sse_reset(&s->parser);
	buf_reset(&s->out);
	buf_reset(&s->raw);
	/* Before the commit everything is held; the cap keeps a chatty upstream from growing it. */
	s->out.max = SSE_MAX_EVENT;
	s->raw.max = x->ctx->rt->cfg->server.max_response;
	s->out_pos = 0;
	s->phase = STREAM_HOLD;
	s->end = STREAM_END_NONE;
	s->sse = s->finish_seen = s->done_seen = s->paused = s->waiting = s->shown = false;
	s->fail_error = ENGINE_OK;
	s->fail_text[0] = '\0';
	timer_init(&s->heartbeat, stream_heartbeat_fire, x);
	timer_init(&s->unpause, stream_unpause_fire, x);
	/* What the client's API says before any output (held until the commit point). */
	return ingress_of(x)->stream_begin(x, &s->out);
}

int stream_allow_continue(struct exchange *x)
{
	struct stream *s = x->stream;

	if (s == NULL)
		return -1;
	if (s->seam == NULL) {
		if ((s->seam = malloc(sizeof *s->seam)) == NULL)
			return -1;
		seam_init(s->seam);
	}
	s->continuable = true;
	/* A rewritten chunk is never longer than an SSE event may be, plus the delivered text it cannot repeat. */
	s->seamed.max = SSE_MAX_EVENT + SEAM_TEXT_MAX;
	return 0;
}

int stream_continue_begin(struct exchange *x, const struct dialect *d, const char *name)
{
	struct stream *s = x->stream;
	char words[200];

	DETOUR_ASSERT(s != NULL && s->continuable && s->phase == STREAM_RELAY);
	if (stream_dialect_begin(x, s, d) != 0)
		return -1;
	s->answer = NULL;
	sse_reset(&s->parser);
	buf_reset(&s->raw);
	s->end = STREAM_END_NONE;
	s->sse = s->finish_seen = s->done_seen = s->paused = false;
	s->fail_error = ENGINE_OK;
	s->fail_text[0] = '\0';
	seam_switch(s->seam);
	/* For people who read raw streams; SDKs skip comment lines. */
	snprintf(words, sizeof words, "detour continued on %s", name);
	stream_room(s, sizeof words + 8);
	sse_write_comment(&s->out, words);
	stream_wake(x);
	return 0;
}

const struct seam *stream_seam(const struct exchange *x)
{
	return x->stream != NULL && x->stream->continuable ? x->stream->seam : NULL;
}

bool stream_committed(const struct exchange *x)
{
	return x->stream != NULL && x->stream->phase != STREAM_HOLD;
}

bool stream_end_if_whole(struct exchange *x)
{
	struct stream *s = x->stream;
	struct engine_response r;

	if (s == NULL || s->phase != STREAM_RELAY || !s->done_seen || s->answer == NULL || !stream_whole(s))
		return false;
	/* A copy, so the engine's record of a call still under way stays as it is. */
	r = *s->answer;
	if (r.ended_ms == 0)
		r.ended_ms = clock_now_ms();
	s->phase = STREAM_ENDED;
	s->end = STREAM_END_WHOLE;
	s->owner->ended(x, &r, false, NULL);
	return true;
}

void stream_client_gone(struct exchange *x)
{
	struct stream *s = x->stream;

	if (s == NULL || s->phase == STREAM_HOLD)
		return;
	s->phase = STREAM_ENDED;
	s->end = STREAM_END_ABANDONED;
	stream_wake(x);
}

void stream_end_with_error(struct exchange *x, const char *code, const char *message)
{
	struct stream *s = x->stream;

	if (s == NULL || s->phase != STREAM_RELAY)
		return;
	stream_append_error(x, STREAM_END_CUT, code, message, NULL);
	stream_wake(x);
}

void stream_release(struct exchange *x)
{
	struct stream *s = x->stream;

	if (s == NULL)
		return;
	timers_disarm(&x->ctx->timers, &s->heartbeat);
	timers_disarm(&x->ctx->timers, &s->unpause);
	sse_free(&s->parser);
	buf_free(&s->out);
	buf_free(&s->raw);
	completion_builder_free(&s->builder);
	if (s->seam != NULL) {
		seam_free(s->seam);
		free(s->seam);
	}
	buf_free(&s->seamed);
	free(s->state);
	free(s);
	x->stream = NULL;
}

int stream_whole_answer(struct exchange *x, struct buf *out)
{
	struct stream *s = x->stream;

	if (s == NULL || !s->collect)
		return -1;
	return completion_builder_finish(&s->builder, out);
}

/* test_stream.c — the stream relay against a fake engine: the test plays each upstream's headers and SSE bytes, split anywhere, and reads what the client would get. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "cache.h"
#include "clock.h"
#include "config.h"
#include "config_load.h"
#include "context.h"
#include "engine.h"
#include "exchange.h"
#include "log.h"
#include "loop.h"
#include "proxy.h"
#include "request.h"
#include "runtime.h"
#include "stream.h"
#include "fake_engine.h"
#include "suites.h"
#include "upstream.h"

/* The primary's key: it must never reach the client. */
#define SECRET "sk-unit-stream-secret-0123456789"

/* No heartbeat: the relay's own comments would break the byte-for-byte comparisons. */
#define TWO_UPSTREAMS                                                                                 \
	"server: { sse_heartbeat: 0s }\n"                                                             \
	"upstreams:\n"                                                                                \
	"  primary: { base_url: \"http://primary.test/v1\", api_key_env: DETOUR_TEST_STREAM_KEY,"     \
	" retries: { attempts: 0 } }\n"                                                               \
	"  backup: { base_url: \"http://backup.test/v1\", retries: { attempts: 0 } }\n"                \
	"models:\n"                                                                                   \
	"  gpt-4o: { targets: [ { upstream: primary }, { upstream: backup } ] }\n"

#define ONE_ANTHROPIC                                                                                 \
	"server: { sse_heartbeat: 0s }\n"                                                             \
	"upstreams:\n"                                                                                \
	"  claude: { base_url: \"http://anthropic.test/v1\", provider: anthropic, retries: { attempts: 0 } }\n" \
	"models:\n"                                                                                   \
	"  claude-3-5-haiku: { targets: [ { upstream: claude } ] }\n"

/* OpenAI chunks, each framed as one SSE event exactly as the relay frames it. */
#define CHUNK(id, delta, finish)                                                                      \
	"data: {\"id\":\"" id "\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\"," \
	"\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" finish "}]}\n\n"
#define ROLE(id) CHUNK(id, "{\"role\":\"assistant\",\"content\":\"\"}", "null")
#define TEXT(id, t) CHUNK(id, "{\"content\":\"" t "\"}", "null")
#define STOP(id) CHUNK(id, "{}", "\"stop\"")
#define DONE "data: [DONE]\n\n"

static struct config *cfg;
static struct runtime rt;
static struct context ctx;
static int client_fds[2] = { -1, -1 };

/*
 * How the upstream's bytes are cut: each piece handed to on_data is 1 to
 * max_piece bytes long (0: a text in one piece), its length drawn from a fixed
 * sequence, so pieces end inside lines, between lines and across events.
 */
static const size_t splits[] = { 0, 1, 3, 16, 200 };
#define NSPLITS (sizeof splits / sizeof splits[0])
static size_t max_piece;
static uint32_t piece_seed;

static size_t piece_len(size_t left)
{
	size_t n;

	if (max_piece == 0)
		return left;
	piece_seed = piece_seed * 1103515245u + 12345u;
	n = 1 + (piece_seed >> 8) % max_piece;
	return n < left ? n : left;
}

static void setup(const char *yaml, size_t split)
{
	char err[512];

	log_set_level(LOG_LEVEL_ERROR); /* the loop's lines are not the test's output */
	setenv("DETOUR_TEST_STREAM_KEY", SECRET, 1);
	ck_assert_msg(config_load_string("test.yaml", yaml, strlen(yaml), &cfg, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(runtime_init(&rt, cfg, err, sizeof err) == 0, "%s", err);
	memset(&ctx, 0, sizeof ctx);
	ctx.rt = &rt;
	ctx.engine_ops = &fake_engine;
	ctx.metrics = runtime_worker_metrics(&rt, 0);
	ck_assert_int_eq(loop_init(&ctx.loop), 0);
	timers_init(&ctx.timers);
	rng_seed(&ctx.rng);
	fake_engine_reset();
	max_piece = split;
	piece_seed = (uint32_t)split + 7u;
}

static void teardown(void)
{
	exchange_free_spares(&ctx);
	for (size_t i = 0; i < 2; i++) {
		if (client_fds[i] >= 0)
			close(client_fds[i]);
		client_fds[i] = -1;
	}
	loop_free(&ctx.loop);
	timers_free(&ctx.timers);
	runtime_free(&rt);
	config_free(cfg);
}

/*
 * A streamed chat request for model, parsed and handed to the attempt loop.
 * Its client is one end of a socket pair, watched for EPOLLRDHUP as the
 * exchange watches a client that waits (exchange_watch_client_soon, which asks
 * libmicrohttpd for the fd: these tests have no libmicrohttpd connection).
 */
static struct exchange *start_stream(const char *model)
{
	struct exchange *x = exchange_new(&ctx, NULL);
	struct request_error e;

	ck_assert_ptr_nonnull(x);
	snprintf(x->request_id, sizeof x->request_id, "unit-test");
	buf_printf(&x->body, "{\"model\":\"%s\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
		   model);
	ck_assert_int_eq(request_parse(&x->request, REQUEST_CHAT, x->body.data, x->body.len, &e), 0);
	x->parsed = true;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, client_fds), 0);
	ck_assert_int_eq(loop_watch_fd(&ctx.loop, &x->client_watch, client_fds[0], EPOLLRDHUP), 0);
	proxy_start(x);
	return x;
}

static struct fake_call *call(size_t i)
{
	ck_assert_uint_lt(i, fake_ncalls);
	ck_assert(!fake_calls[i].cancelled);
	return &fake_calls[i];
}

/* Plays call i's status line and headers. */
static void play_headers(size_t i, unsigned status, const char *content_type)
{
	struct fake_call *c = call(i);
	struct engine_response *r = &c->response;

	memset(r, 0, sizeof *r);
	r->status = status;
	r->retry_after_ms = -1;
	r->request_sent = true;                   /* the upstream read the request before answering */
	snprintf(r->content_type, sizeof r->content_type, "%s", content_type);
	ck_assert_ptr_nonnull(c->handlers->on_headers);
	c->handlers->on_headers(c->arg, r);
}

/* Hands len body bytes of call i to its handler in one piece, noting a pause as the engine would. */
static enum engine_data_result deliver(size_t i, const char *data, size_t len)
{
	struct fake_call *c = call(i);
	enum engine_data_result res;

	ck_assert(!c->paused);                    /* a paused transfer gets no data */
	res = c->handlers->on_data(c->arg, data, len);
	if (res == ENGINE_DATA_PAUSE) {
		c->paused = true;
		c->pauses++;
	}
	return res;
}

/* Plays len bytes of text in pieces; stops at the first piece not taken and returns what the handler said. */
static enum engine_data_result play_some(size_t i, const char *text, size_t len)
{
	size_t at = 0, n;
	enum engine_data_result res = ENGINE_DATA_OK;

	while (at < len && res == ENGINE_DATA_OK) {
		n = piece_len(len - at);
		res = deliver(i, text + at, n);
		at += n;
	}
	return res;
}

static void play(size_t i, const char *text)
{
	ck_assert_int_eq(play_some(i, text, strlen(text)), ENGINE_DATA_OK);
}

/* Plays the end of call i's transfer: error ENGINE_OK is a whole HTTP response. */
static void play_done(size_t i, enum engine_error error, unsigned status)
{
	struct fake_call *c = call(i);
	struct engine_response r;

	memset(&r, 0, sizeof r);
	r.error = error;
	r.status = status;
	r.retry_after_ms = -1;
	snprintf(r.content_type, sizeof r.content_type, "text/event-stream");
	if (error != ENGINE_OK)
		snprintf(r.error_text, sizeof r.error_text, "connection reset by peer");
	r.started_ms = r.ended_ms = clock_now_ms();
	buf_init(&r.body, 1 << 20);
	c->handlers->on_done(c->arg, &r);
	buf_free(&r.body);
}

/*
 * The client's side, read as libmicrohttpd reads it (blocks of 2 KiB through
 * the answer's reader). Only called when bytes wait or the stream ended: with
 * nothing to hand out, the reader would suspend a connection these tests do
 * not have.
 */
static void client_read(struct exchange *x, size_t n, struct buf *got)
{
	char block[2048];
	ssize_t r;

	while (n > 0) {
		r = stream_read(x, 0, block, n < sizeof block ? n : sizeof block);
		ck_assert_int_gt(r, 0);
		ck_assert_int_eq(buf_append(got, block, (size_t)r), 0);
		n -= (size_t)r;
	}
}

/* Reads an ended stream to its end; returns the reader's last word. */
static ssize_t client_read_to_end(struct exchange *x, struct buf *got)
{
	char block[2048];
	ssize_t r;

	while ((r = stream_read(x, 0, block, sizeof block)) > 0)
		ck_assert_int_eq(buf_append(got, block, (size_t)r), 0);
	ck_assert_int_ne(r, 0);
	return r;
}

static void assert_got(const struct buf *got, const char *expected)
{
	ck_assert_str_eq(got->len > 0 ? got->data : "", expected);
	ck_assert_uint_eq(got->len, strlen(expected));
}

static const char *header(struct exchange *x, const char *name)
{
	ck_assert_ptr_nonnull(x->response);
	return MHD_get_response_header(x->response, name);
}

static struct upstream_view view(size_t i)
{
	struct upstream_view v;

	upstream_view(&rt.upstreams[i], clock_now_ms(), &v);
	return v;
}

/*
 * The events a client read, in order: each must be one "data: " line and a
 * blank line. Returns the chunks (JSON) and whether [DONE] came, last.
 */
static json_t *client_events(const struct buf *got, bool *done)
{
	json_t *chunks = json_array();
	const char *p = got->data, *end = got->data + got->len, *eol;
	json_error_t err;

	*done = false;
	while (p < end) {
		ck_assert_msg(!*done, "an event after [DONE]");
		ck_assert_msg(end - p > 6 && memcmp(p, "data: ", 6) == 0, "not a data line: %.40s", p);
		eol = memchr(p, '\n', (size_t)(end - p));
		ck_assert_ptr_nonnull(eol);
		ck_assert_msg(eol + 1 < end && eol[1] == '\n', "an event of more than one line");
		if (eol - p == 12 && memcmp(p + 6, "[DONE]", 6) == 0) {
			*done = true;
		} else {
			json_t *chunk = json_loadb(p + 6, (size_t)(eol - p - 6), 0, &err);

			ck_assert_msg(chunk != NULL, "not JSON: %s", err.text);
			json_array_append_new(chunks, chunk);
		}
		p = eol + 2;
	}
	return chunks;
}

/* The error object of the client's last event but [DONE] (the stream must end with both). */
static json_t *last_error(const struct buf *got, json_t **chunks)
{
	bool done;
	json_t *error;

	*chunks = client_events(got, &done);
	ck_assert_msg(done, "the stream did not end with [DONE]");
	ck_assert_uint_gt(json_array_size(*chunks), 0);
	error = json_object_get(json_array_get(*chunks, json_array_size(*chunks) - 1), "error");
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(json_string_value(json_object_get(error, "code")), "stream_interrupted");
	return error;
}

START_TEST(nothing_reaches_the_client_before_the_first_content_then_every_chunk_in_order)
{
	struct exchange *x;
	struct buf got;
	const char *hel = TEXT("p", "Hel");

	setup(TWO_UPSTREAMS, splits[_i]);
	buf_init(&got, 1 << 20);
	x = start_stream("gpt-4o");
	ck_assert_uint_eq(fake_ncalls, 1);
	ck_assert_str_eq(fake_calls[0].url, "http://primary.test/v1/chat/completions");
	play_headers(0, 200, "text/event-stream");
	play(0, ROLE("p"));
	/* A role alone shows nothing: held, and the attempt could still fall over. */
	ck_assert_ptr_null(x->response);
	ck_assert(!stream_committed(x));
	/* The content chunk commits once it is whole, at its blank line. */
	ck_assert_int_eq(play_some(0, hel, strlen(hel) - 1), ENGINE_DATA_OK);
	ck_assert_ptr_null(x->response);
	ck_assert_int_eq(deliver(0, "\n", 1), ENGINE_DATA_OK);
	ck_assert(stream_committed(x));
	ck_assert_uint_eq(x->status, 200);
	ck_assert_str_eq(header(x, "Content-Type"), "text/event-stream");
	ck_assert_str_eq(header(x, "x-detour-upstream"), "primary");
	client_read(x, strlen(ROLE("p")) + strlen(hel), &got);
	assert_got(&got, ROLE("p") TEXT("p", "Hel"));

	buf_reset(&got);
	play(0, TEXT("p", "lo") STOP("p") DONE);
	play_done(0, ENGINE_OK, 200);
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	assert_got(&got, TEXT("p", "lo") STOP("p") DONE);
	ck_assert_uint_eq(fake_ncalls, 1);
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	ck_assert_uint_eq(view(0).successes, 1);
	ck_assert_uint_eq(view(0).failures, 0);
	exchange_release(x);
	buf_free(&got);
	teardown();
}
END_TEST

/*
 * Past the commit point a stream that cannot be continued gives its request
 * back (a long conversation held for a stream's minutes), having taken the
 * cache's key first: the whole answer is still cached under the request.
 */
START_TEST(a_committed_stream_gives_its_request_back_and_is_still_cached)
{
	struct exchange *x;
	struct buf got, key;
	struct cache_hit hit;
	const char *body = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

	setup(TWO_UPSTREAMS, 0);
	ck_assert_ptr_nonnull(rt.cache);             /* the default configuration caches */
	buf_init(&got, 1 << 20);
	buf_init(&key, 1 << 20);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, ROLE("p") TEXT("p", "Hel"));
	ck_assert(stream_committed(x));
	ck_assert_ptr_null(x->body.data);
	ck_assert_uint_eq(x->request.len, 0);
	ck_assert_uint_gt(x->attempt.cache_key.len, 0);
	play(0, TEXT("p", "lo") STOP("p") DONE);
	play_done(0, ENGINE_OK, 200);
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	exchange_release(x);
	ck_assert_int_eq(cache_key(body, strlen(body), &key), 0);
	ck_assert(cache_lookup(rt.cache, key.data, key.len, clock_now_ms(), &hit));
	ck_assert_ptr_nonnull(strstr(hit.answer, "\"content\":\"Hello\""));
	cache_hit_free(&hit);
	buf_free(&key);
	buf_free(&got);
	teardown();
}
END_TEST

/* Replaces every SECRET in text with as many '*' (what redaction leaves). */
static void mask_secret(char *text)
{
	char *at;

	while ((at = strstr(text, SECRET)) != NULL)
		memset(at, '*', strlen(SECRET));
}

/*
 * A chunk is copied to be masked for the cache only when it holds the
 * upstream's key: one that does reaches the client and the cached answer
 * masked, the chunks around it byte for byte as they came.
 */
START_TEST(a_chunk_holding_the_key_reaches_the_client_and_the_cache_masked)
{
	static const char told[] = ROLE("p") TEXT("p", "Hel") TEXT("p", "lo " SECRET "!") STOP("p") DONE;
	struct exchange *x;
	struct buf got, key, want;
	struct cache_hit hit;
	char expected[sizeof told];
	const char *body = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

	setup(TWO_UPSTREAMS, splits[_i]);
	buf_init(&got, 1 << 20);
	buf_init(&key, 1 << 20);
	buf_init(&want, 1 << 20);
	memcpy(expected, told, sizeof told);
	mask_secret(expected);
	ck_assert_str_ne(expected, told);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, told);
	play_done(0, ENGINE_OK, 200);
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	assert_got(&got, expected);
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	exchange_release(x);
	ck_assert_int_eq(cache_key(body, strlen(body), &key), 0);
	ck_assert(cache_lookup(rt.cache, key.data, key.len, clock_now_ms(), &hit));
	ck_assert_ptr_null(strstr(hit.answer, "sk-unit"));
	buf_printf(&want, "\"content\":\"Hello %s!\"", SECRET);
	mask_secret(want.data);
	ck_assert_ptr_nonnull(strstr(hit.answer, want.data));
	cache_hit_free(&hit);
	buf_free(&want);
	buf_free(&key);
	buf_free(&got);
	teardown();
}
END_TEST

/* An upstream that answers before curl has sent the whole request: curl still
 * reads the body it was given without a copy, so the stream keeps it. */
START_TEST(a_stream_answered_before_its_request_was_sent_keeps_it)
{
	struct exchange *x;

	setup(TWO_UPSTREAMS, 0);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	call(0)->response.request_sent = false;
	play(0, ROLE("p") TEXT("p", "Hel"));
	ck_assert(stream_committed(x));
	ck_assert_ptr_nonnull(x->body.data);
	ck_assert_uint_eq(x->request.len, x->body.len);
	stream_client_gone(x);
	exchange_release(x);
	teardown();
}
END_TEST

/* A stream that may be continued keeps its request: the next call is built from it. */
START_TEST(a_stream_that_may_continue_keeps_its_request)
{
	struct exchange *x;

	setup(TWO_UPSTREAMS "streams: { on_cut: continue }\n", 0);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, ROLE("p") TEXT("p", "Hel"));
	ck_assert(stream_committed(x));
	ck_assert_ptr_nonnull(stream_seam(x));
	ck_assert_ptr_nonnull(x->body.data);
	ck_assert_uint_eq(x->request.len, x->body.len);
	ck_assert_ptr_nonnull(strstr(x->request.body, "\"content\":\"Hi\""));
	stream_client_gone(x);
	exchange_release(x);
	teardown();
}
END_TEST

START_TEST(a_whole_stream_without_done_from_the_upstream_still_ends_with_done)
{
	static const char told[] = ROLE("p") TEXT("p", "Hi") STOP("p");
	struct exchange *x;
	struct buf got;

	setup(TWO_UPSTREAMS, splits[_i]);
	buf_init(&got, 1 << 20);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, told);                            /* a finish_reason, then the connection closes */
	play_done(0, ENGINE_OK, 200);
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	assert_got(&got, ROLE("p") TEXT("p", "Hi") STOP("p") DONE);
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	ck_assert_uint_eq(view(0).failures, 0);
	exchange_release(x);
	buf_free(&got);
	teardown();
}
END_TEST

/* _i: the split, and whether the primary's transfer breaks (a reset) or ends
 * cleanly without having said anything. */
START_TEST(a_stream_failing_before_its_first_content_falls_over_to_the_backup_unseen)
{
	static const char backup[] = ROLE("backup") TEXT("backup", "Hi") STOP("backup") DONE;
	enum engine_error error = _i / NSPLITS == 0 ? ENGINE_PROTOCOL : ENGINE_OK;
	struct exchange *x;
	struct buf got;

	setup(TWO_UPSTREAMS, splits[_i % NSPLITS]);
	buf_init(&got, 1 << 20);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, ROLE("primary"));
	play_done(0, error, 200);
	ck_assert_ptr_null(x->response);
	ck_assert(!stream_committed(x));
	ck_assert_uint_eq(fake_ncalls, 2);
	ck_assert_str_eq(fake_calls[1].url, "http://backup.test/v1/chat/completions");

	play_headers(1, 200, "text/event-stream");
	play(1, backup);
	play_done(1, ENGINE_OK, 200);
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	assert_got(&got, backup);                 /* not a byte of the primary's */
	ck_assert_str_eq(header(x, "x-detour-upstream"), "backup");
	ck_assert_str_eq(header(x, "x-detour-attempts"), "2");
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	ck_assert_uint_eq(view(0).failures, 1);
	ck_assert_uint_eq(view(1).failures, 0);
	ck_assert_uint_eq(view(1).successes, 1);
	exchange_release(x);
	buf_free(&got);
	teardown();
}
END_TEST

/* _i: the split, and whether the transfer breaks (a reset) or ends cleanly
 * but early (no finish_reason, no [DONE]). */
START_TEST(a_failure_after_the_commit_point_ends_with_an_error_event_and_done)
{
	static const char before[] = ROLE("p") TEXT("p", "Hel");
	enum engine_error error = _i / NSPLITS == 0 ? ENGINE_PROTOCOL : ENGINE_OK;
	struct exchange *x;
	struct buf got;
	json_t *chunks, *e;

	setup(TWO_UPSTREAMS, splits[_i % NSPLITS]);
	buf_init(&got, 1 << 20);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, before);
	ck_assert(stream_committed(x));
	play_done(0, error, 200);
	ck_assert_uint_eq(fake_ncalls, 1);        /* committed: no falling over */
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	ck_assert_uint_gt(got.len, strlen(before));
	ck_assert_int_eq(memcmp(got.data, before, strlen(before)), 0);
	e = last_error(&got, &chunks);
	ck_assert_uint_eq(json_array_size(chunks), 3); /* role, Hel, the error */
	ck_assert_str_eq(json_string_value(json_object_get(e, "upstream")), "primary");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "message")), "broke off the stream"));
	ck_assert_int_eq(exchange_end_reason(x), END_STREAM_CUT);
	ck_assert_uint_eq(view(0).failures, 1);
	json_decref(chunks);
	exchange_release(x);
	buf_free(&got);
	teardown();
}
END_TEST

START_TEST(an_error_event_mid_stream_ends_with_the_redacted_error_and_done)
{
	static const char before[] = ROLE("p") TEXT("p", "Hel");
	static const char error_event[] =
		"data: {\"error\":{\"message\":\"overloaded; key " SECRET " was throttled\",\"type\":\"server_error\"}}\n\n";
	struct exchange *x;
	struct buf got;
	json_t *chunks, *e;
	const char *message;

	setup(TWO_UPSTREAMS, splits[_i]);
	buf_init(&got, 1 << 20);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, before);
	ck_assert(stream_committed(x));
	/* The relay stops the transfer; the engine then ends it as ENGINE_INTERNAL. */
	ck_assert_int_eq(play_some(0, error_event, strlen(error_event)), ENGINE_DATA_ABORT);
	play_done(0, ENGINE_INTERNAL, 200);
	ck_assert_uint_eq(fake_ncalls, 1);
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	ck_assert_int_eq(memcmp(got.data, before, strlen(before)), 0);
	ck_assert_ptr_null(strstr(got.data, SECRET));
	ck_assert_ptr_null(strstr(got.data, "sk-unit"));
	e = last_error(&got, &chunks);
	ck_assert_uint_eq(json_array_size(chunks), 3);
	message = json_string_value(json_object_get(e, "message"));
	ck_assert_ptr_nonnull(strstr(message, "overloaded; key ********"));
	ck_assert_ptr_nonnull(strstr(message, " was throttled"));
	ck_assert_str_eq(json_string_value(json_object_get(e, "upstream")), "primary");
	ck_assert_int_eq(exchange_end_reason(x), END_STREAM_CUT);
	ck_assert_uint_eq(view(0).failures, 1);
	ck_assert_ptr_null(strstr(view(0).last_error.message, SECRET));
	json_decref(chunks);
	exchange_release(x);
	buf_free(&got);
	teardown();
}
END_TEST

START_TEST(a_slow_client_pauses_the_upstream_and_reading_unpauses_it)
{
	struct exchange *x;
	struct buf sent, got, chunk;
	size_t backlog, i;
	char filler[1001];

	setup(TWO_UPSTREAMS, 0);
	buf_init(&sent, 1 << 20);
	buf_init(&got, 1 << 20);
	buf_init(&chunk, 4096);
	memset(filler, 'a', sizeof filler - 1);
	filler[sizeof filler - 1] = '\0';
	buf_printf(&chunk, TEXT("p", "%s"), filler);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, ROLE("p") TEXT("p", "Hel"));
	buf_append_str(&sent, ROLE("p") TEXT("p", "Hel"));
	ck_assert(stream_committed(x));

	/* Nobody reads: the relay takes chunks until STREAM_HIGH_WATER bytes wait, then asks for a pause. */
	for (i = 0; i < STREAM_HIGH_WATER / chunk.len + 2 && !fake_calls[0].paused; i++) {
		if (deliver(0, chunk.data, chunk.len) == ENGINE_DATA_OK)
			ck_assert_int_eq(buf_append(&sent, chunk.data, chunk.len), 0);
	}
	ck_assert(fake_calls[0].paused);
	ck_assert_uint_eq(fake_calls[0].pauses, 1);
	ck_assert_uint_ge(sent.len, STREAM_HIGH_WATER);
	ck_assert_uint_lt(sent.len, STREAM_HIGH_WATER + chunk.len);

	/* The client reads; at or above STREAM_LOW_WATER the upstream stays paused. */
	backlog = sent.len;
	while (backlog - 2048 >= STREAM_LOW_WATER) {
		client_read(x, 2048, &got);
		backlog -= 2048;
		timers_run_due(&ctx.timers, clock_now_ms());
		ck_assert_uint_eq(fake_calls[0].unpauses, 0);
	}
	/* Below it the upstream goes on, from the loop rather than inside the reader. */
	client_read(x, backlog - (STREAM_LOW_WATER - 1), &got);
	ck_assert_uint_eq(fake_calls[0].unpauses, 0);
	timers_run_due(&ctx.timers, clock_now_ms());
	ck_assert_uint_eq(fake_calls[0].unpauses, 1);
	ck_assert(!fake_calls[0].paused);

	/* The engine hands over the data it held, then the rest. */
	ck_assert_int_eq(deliver(0, chunk.data, chunk.len), ENGINE_DATA_OK);
	buf_append(&sent, chunk.data, chunk.len);
	play(0, STOP("p") DONE);
	buf_append_str(&sent, STOP("p") DONE);
	play_done(0, ENGINE_OK, 200);
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	assert_got(&got, sent.data);              /* every byte, in order, none twice */
	ck_assert_uint_eq(fake_calls[0].pauses, 1);
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	exchange_release(x);
	buf_free(&chunk);
	buf_free(&got);
	buf_free(&sent);
	teardown();
}
END_TEST

/* What an Anthropic Messages stream says, with its event lines. */
static const char anthropic_head[] =
	"event: message_start\n"
	"data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_s\",\"type\":\"message\",\"role\":\"assistant\","
	"\"model\":\"claude-3-5-haiku-latest\",\"content\":[],\"stop_reason\":null,"
	"\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"
	"event: content_block_start\n"
	"data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	"event: ping\n"
	"data: {\"type\":\"ping\"}\n\n";
static const char anthropic_rest[] =
	"event: content_block_delta\n"
	"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
	"event: content_block_delta\n"
	"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n"
	"event: content_block_stop\n"
	"data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	"event: message_delta\n"
	"data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
	"\"usage\":{\"output_tokens\":2}}\n\n"
	"event: message_stop\n"
	"data: {\"type\":\"message_stop\"}\n\n";

static const char *delta_text(json_t *chunks, size_t i, const char *key)
{
	json_t *choice = json_array_get(json_object_get(json_array_get(chunks, i), "choices"), 0);

	return json_string_value(json_object_get(json_object_get(choice, "delta"), key));
}

START_TEST(an_anthropic_stream_reaches_the_client_as_chat_chunks)
{
	struct exchange *x;
	struct buf got;
	json_t *chunks, *choice;
	bool done;
	size_t i;

	setup(ONE_ANTHROPIC, splits[_i]);
	buf_init(&got, 1 << 20);
	x = start_stream("claude-3-5-haiku");
	ck_assert_uint_eq(fake_ncalls, 1);
	ck_assert_str_eq(fake_calls[0].url, "http://anthropic.test/v1/messages");
	play_headers(0, 200, "text/event-stream");
	play(0, anthropic_head);
	ck_assert_ptr_null(x->response);          /* no text yet */
	play(0, anthropic_rest);
	ck_assert(stream_committed(x));
	play_done(0, ENGINE_OK, 200);
	ck_assert_int_eq(client_read_to_end(x, &got), MHD_CONTENT_READER_END_OF_STREAM);
	ck_assert_ptr_null(strstr(got.data, "event:"));
	ck_assert_ptr_null(strstr(got.data, "content_block"));
	chunks = client_events(&got, &done);
	ck_assert(done);
	ck_assert_uint_eq(json_array_size(chunks), 4);
	for (i = 0; i < 4; i++) {
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(chunks, i), "object")),
				 "chat.completion.chunk");
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(chunks, i), "id")), "chatcmpl-msg_s");
	}
	ck_assert_str_eq(delta_text(chunks, 0, "role"), "assistant");
	ck_assert_str_eq(delta_text(chunks, 1, "content"), "Hel");
	ck_assert_str_eq(delta_text(chunks, 2, "content"), "lo");
	choice = json_array_get(json_object_get(json_array_get(chunks, 3), "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(choice, "finish_reason")), "stop");
	ck_assert_str_eq(header(x, "x-detour-upstream"), "claude");
	ck_assert_int_eq(exchange_end_reason(x), END_ANSWERED);
	json_decref(chunks);
	exchange_release(x);
	buf_free(&got);
	teardown();
}
END_TEST

START_TEST(a_client_leaving_a_committed_stream_cancels_the_call_without_blaming_the_upstream)
{
	struct exchange *x;
	struct buf got;
	char block[2048];

	setup(TWO_UPSTREAMS, splits[_i]);
	buf_init(&got, 1 << 20);
	x = start_stream("gpt-4o");
	play_headers(0, 200, "text/event-stream");
	play(0, ROLE("p") TEXT("p", "Hel"));
	client_read(x, strlen(ROLE("p") TEXT("p", "Hel")), &got);
	play(0, TEXT("p", "lo"));                /* waiting for the client when it leaves */

	close(client_fds[1]);
	client_fds[1] = -1;
	ck_assert_int_eq(loop_run_once(&ctx.loop, 1000), 1);
	ck_assert(fake_calls[0].cancelled);
	ck_assert_ptr_null(x->transfer);
	/* libmicrohttpd is told to drop the connection, not to end the answer as whole. */
	ck_assert_int_eq(stream_read(x, 0, block, sizeof block), MHD_CONTENT_READER_END_WITH_ERROR);
	ck_assert_int_eq(exchange_end_reason(x), END_CLIENT_GONE);
	ck_assert_uint_eq(view(0).failures, 0);
	ck_assert_uint_eq(view(0).failures_in_window, 0);
	ck_assert_uint_eq(fake_ncalls, 1);
	exchange_release(x);
	ck_assert_uint_eq(atomic_load(&rt.requests_active), 0);
	buf_free(&got);
	teardown();
}
END_TEST

Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("relay");

	tcase_add_loop_test(tc, nothing_reaches_the_client_before_the_first_content_then_every_chunk_in_order, 0,
			    NSPLITS);
	tcase_add_loop_test(tc, a_whole_stream_without_done_from_the_upstream_still_ends_with_done, 0, NSPLITS);
	tcase_add_test(tc, a_committed_stream_gives_its_request_back_and_is_still_cached);
	tcase_add_loop_test(tc, a_chunk_holding_the_key_reaches_the_client_and_the_cache_masked, 0, NSPLITS);
	tcase_add_test(tc, a_stream_that_may_continue_keeps_its_request);
	tcase_add_test(tc, a_stream_answered_before_its_request_was_sent_keeps_it);
	tcase_add_loop_test(tc, a_stream_failing_before_its_first_content_falls_over_to_the_backup_unseen, 0,
			    2 * NSPLITS);
	tcase_add_loop_test(tc, a_failure_after_the_commit_point_ends_with_an_error_event_and_done, 0, 2 * NSPLITS);
	tcase_add_loop_test(tc, an_error_event_mid_stream_ends_with_the_redacted_error_and_done, 0, NSPLITS);
	tcase_add_test(tc, a_slow_client_pauses_the_upstream_and_reading_unpauses_it);
	tcase_add_loop_test(tc, an_anthropic_stream_reaches_the_client_as_chat_chunks, 0, NSPLITS);
	tcase_add_loop_test(tc, a_client_leaving_a_committed_stream_cancels_the_call_without_blaming_the_upstream, 0,
			    NSPLITS);
	suite_add_tcase(s, tc);
	return s;
}

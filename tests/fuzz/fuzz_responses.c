/* fuzz_responses.c — any bytes as a Responses request, as a chat answer, as a chat stream and as a native response to adopt: every output is JSON, every refusal says why, every event is numbered in order. */
#include "fuzz.h"

#include <jansson.h>

#include "buf.h"
#include "jsonscan.h"
#include "responses.h"
#include "responses_write.h"
#include "rng.h"
#include "sse.h"

static const char fuzz_request[] =
	"{\"model\":\"gpt-4o\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{}}]}";

struct fuzz_stream {
	struct responses_stream s;
	struct buf out;
	bool done;
};

static void fuzz_request_bytes(const char *body, size_t len)
{
	struct responses_options o = { NULL, false };
	struct buf out;
	char why[256] = "";
	enum responses_result rc;

	buf_init(&out, 1 << 22);
	rc = responses_request_bytes(body, len, &o, &out, why, sizeof why);
	if (rc == RESPONSES_OK)
		FUZZ_REQUIRE(jsonscan_valid_object(out.data, out.len));
	else
		FUZZ_REQUIRE(out.len == 0 && why[0] != '\0' && memchr(why, '\0', sizeof why) != NULL);
	buf_free(&out);
}

static void fuzz_answer(const json_t *request, const char *chat, size_t len, struct rng *rng)
{
	struct responses_meta m = { request, "resp_fuzz", 1700000000 };
	struct buf out;

	buf_init(&out, 1 << 22);
	if (responses_answer_bytes(&m, chat, len, rng, &out) == 0)
		FUZZ_REQUIRE(jsonscan_valid_object(out.data, out.len));
	else
		FUZZ_REQUIRE(out.len == 0);
	buf_free(&out);
}

static int fuzz_stream_event(void *arg, const struct sse_event *ev)
{
	struct fuzz_stream *f = arg;
	size_t before = f->out.len;

	switch (responses_stream_chunk(&f->s, ev->data, ev->data_len, &f->out)) {
	case RESPONSES_STREAM_NONE:
	case RESPONSES_STREAM_CONTENT:
		return 0;
	case RESPONSES_STREAM_DONE:
		f->done = true;
		return 1;
	case RESPONSES_STREAM_ERROR:
		FUZZ_REQUIRE(f->out.len == before && f->s.words[0] != '\0');
		return 1;
	}
	return 1;
}

/* Every frame written is "event: T\ndata: {...}\n\n" with sequence_number 0, 1, 2, ... */
static void fuzz_check_events(const struct buf *out)
{
	uint64_t next = 0;
	const char *at = out->data, *end = out->data + out->len;

	while (at < end) {
		const char *data = strstr(at, "\ndata: "), *stop;
		json_t *event, *n;

		FUZZ_REQUIRE(strncmp(at, "event: ", 7) == 0 && data != NULL);
		data += 7;
		stop = strstr(data, "\n\n");
		FUZZ_REQUIRE(stop != NULL);
		event = json_loadb(data, (size_t)(stop - data), 0, NULL);
		FUZZ_REQUIRE(event != NULL);
		n = json_object_get(event, "sequence_number");
		FUZZ_REQUIRE(json_is_integer(n) && (uint64_t)json_integer_value(n) == next);
		next++;
		json_decref(event);
		at = stop + 2;
	}
}

static void fuzz_stream(const json_t *request, const char *bytes, size_t len, bool cut, struct rng *rng)
{
	struct responses_meta m = { request, "resp_fuzz", 1700000000 };
	struct fuzz_stream f;
	struct sse_parser p;
	json_t *final;

	memset(&f, 0, sizeof f);
	buf_init(&f.out, 1 << 24);
	responses_stream_init(&f.s, &m, rng);
	FUZZ_REQUIRE(responses_stream_begin(&f.s, &f.out) == 0);
	sse_init(&p);
	(void)sse_feed(&p, bytes, len, fuzz_stream_event, &f);
	if (!f.done && !f.s.ended)
		(void)(cut ? responses_stream_fail(&f.s, "server_error", "cut", &f.out) : responses_stream_finish(&f.s, &f.out));
	fuzz_check_events(&f.out);
	buf_reset(&f.out);
	if (responses_stream_response_bytes(&f.s, &f.out) == 0) {
		final = json_loadb(f.out.data, f.out.len, 0, NULL);
		json_decref(final);
	}
	sse_free(&p);
	responses_stream_free(&f.s);
	buf_free(&f.out);
}

/* A valid object adopted is a valid object with detour's three members set as jansson would set them. */
static void fuzz_adopted(const json_t *request, const char *answer, size_t len)
{
	struct buf out;
	json_t *got, *want;

	if (!jsonscan_valid_object(answer, len))
		return;
	buf_init(&out, 2 * len + 4096);
	if (responses_write_adopted(&out, answer, len, request, "resp_fuzz", true) == 0) {
		FUZZ_REQUIRE(jsonscan_valid_object(out.data, out.len));
		got = json_loadb(out.data, out.len, 0, NULL);
		want = json_loadb(answer, len, 0, NULL);
		/* jansson refuses some documents jsonscan takes (a \u0000 in a string): compare where both read. */
		if (got != NULL && want != NULL) {
			json_object_set_new(want, "id", json_string("resp_fuzz"));
			json_object_set_new(want, "previous_response_id", json_null());
			json_object_set_new(want, "store", json_true());
			FUZZ_REQUIRE(json_equal(got, want));
		}
		json_decref(got);
		json_decref(want);
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t mode = fuzz_byte(&in);
	json_t *request = json_loads(fuzz_request, 0, NULL);
	struct rng rng;

	FUZZ_REQUIRE(request != NULL);
	rng_seed_with(&rng, 1);
	switch (mode % 3) {
	case 0:
		fuzz_request_bytes((const char *)in.p, in.left);
		break;
	case 1:
		fuzz_answer(request, (const char *)in.p, in.left, &rng);
		fuzz_adopted(request, (const char *)in.p, in.left);
		break;
	default:
		fuzz_stream(request, (const char *)in.p, in.left, mode & 0x80, &rng);
		break;
	}
	json_decref(request);
	return 0;
}

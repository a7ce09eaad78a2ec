/* fuzz_anthropic_stream.c — any bytes as an Anthropic SSE stream: every OpenAI chunk is a JSON object, gathered back into an answer as the cache does. */
#include "fuzz.h"

#include <jansson.h>

#include "anthropic.h"
#include "completion.h"
#include "jsonscan.h"
#include "sse.h"

struct fuzz_stream {
	struct anthropic_stream s;
	struct completion_builder builder;
	bool done;
};

static int fuzz_stream_emit(void *arg, const char *chunk, size_t len)
{
	struct fuzz_stream *f = arg;

	FUZZ_REQUIRE(strlen(chunk) == len);
	FUZZ_REQUIRE(jsonscan_valid_object(chunk, len));
	completion_builder_add(&f->builder, chunk, len);
	return 0;
}

/* As the proxy reads the stream: it ends at message_stop or the first error. */
static int fuzz_stream_event(void *arg, const struct sse_event *ev)
{
	struct fuzz_stream *f = arg;

	switch (anthropic_stream_event(&f->s, ev->name, ev->name_len, ev->data, ev->data_len, fuzz_stream_emit, f)) {
	case ANTHROPIC_EVENT_NONE:
	case ANTHROPIC_EVENT_CONTENT:
		return 0;
	case ANTHROPIC_EVENT_DONE:
		f->done = true;
		return 1;
	case ANTHROPIC_EVENT_ERROR:
		FUZZ_REQUIRE(f->s.error[0] != '\0');
		FUZZ_REQUIRE(memchr(f->s.error, '\0', sizeof f->s.error) != NULL);
		return 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	bool include_usage = fuzz_byte(&in) & 1;
	struct fuzz_stream f;
	struct sse_parser p;
	struct buf out;

	memset(&f, 0, sizeof f);
	anthropic_stream_init(&f.s, 1700000000, include_usage);
	completion_builder_init(&f.builder);
	sse_init(&p);
	buf_init(&out, 1 << 22);
	(void)sse_feed(&p, (const char *)in.p, in.left, fuzz_stream_event, &f);
	FUZZ_REQUIRE(memchr(f.s.id, '\0', sizeof f.s.id) != NULL);
	FUZZ_REQUIRE(memchr(f.s.model, '\0', sizeof f.s.model) != NULL);
	if (f.done && completion_builder_finish(&f.builder, &out) == 0)
		FUZZ_REQUIRE(jsonscan_valid_object(out.data, out.len));
	buf_free(&out);
	sse_free(&p);
	completion_builder_free(&f.builder);
	return 0;
}

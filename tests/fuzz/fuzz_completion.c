/* fuzz_completion.c — completion building: any bytes as an answer told as SSE, as chunks gathered back, and as the offline message. */
#include "fuzz.h"

#include <jansson.h>

#include "buf.h"
#include "completion.h"
#include "jsonscan.h"
#include "sse.h"

/* Gives each event's data but [DONE] to the builder, as the cache's copy of a stream does. */
static int fuzz_completion_gather(void *arg, const struct sse_event *ev)
{
	FUZZ_REQUIRE(ev->name_len == 0);
	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)
		return 0;
	FUZZ_REQUIRE(jsonscan_valid_object(ev->data, ev->data_len));
	completion_builder_add(arg, ev->data, ev->data_len);
	return 0;
}

/* The answer told as SSE; its events gathered back give a whole answer again. */
static void fuzz_completion_to_sse(const char *answer, size_t len, bool include_usage)
{
	struct completion_builder b;
	struct sse_parser p;
	struct buf sse, back;

	buf_init(&sse, 1 << 22);
	buf_init(&back, 1 << 22);
	if (completion_to_sse(answer, len, include_usage, &sse) == 0) {
		completion_builder_init(&b);
		sse_init(&p);
		FUZZ_REQUIRE(sse_feed(&p, sse.data, sse.len, fuzz_completion_gather, &b) == SSE_OK);
		FUZZ_REQUIRE(!sse_partial(&p));
		if (completion_builder_finish(&b, &back) == 0)
			FUZZ_REQUIRE(jsonscan_valid_object(back.data, back.len));
		sse_free(&p);
		completion_builder_free(&b);
	} else {
		FUZZ_REQUIRE(sse.len == 0);
	}
	buf_free(&sse);
	buf_free(&back);
}

/* Any bytes, split at newlines, as the chunks of one stream. */
static void fuzz_completion_chunks(const char *text, size_t len)
{
	struct completion_builder b;
	struct buf out;
	const char *p = text, *end = text + len;

	completion_builder_init(&b);
	buf_init(&out, 1 << 22);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		char *chunk = fuzz_strndup(p, n);

		completion_builder_add(&b, chunk, n);
		free(chunk);
		p += n + (nl != NULL);
	}
	if (completion_builder_finish(&b, &out) == 0)
		FUZZ_REQUIRE(jsonscan_valid_object(out.data, out.len));
	else
		FUZZ_REQUIRE(out.len == 0);
	completion_builder_free(&b);
	buf_free(&out);
}

/* The offline answer says exactly the configured message (which YAML gives as UTF-8 without NUL). */
static void fuzz_completion_offline(const char *text, size_t len)
{
	json_t *check = json_stringn(text, len), *root, *content;
	char *message = fuzz_strndup(text, len);
	struct buf out;

	buf_init(&out, 1 << 20);
	if (check != NULL && memchr(text, '\0', len) == NULL) {
		FUZZ_REQUIRE(completion_offline(message, "fuzz", 1700000000, &out) == 0);
		root = json_loadb(out.data, out.len, 0, NULL);
		content = json_object_get(json_object_get(json_array_get(json_object_get(root, "choices"), 0),
							  "message"), "content");
		FUZZ_REQUIRE(json_equal(content, check));
		json_decref(root);
		fuzz_completion_to_sse(out.data, out.len, true);
	}
	json_decref(check);
	buf_free(&out);
	free(message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t how = fuzz_byte(&in);
	const char *text = (const char *)in.p;

	switch (how % 3) {
	case 0:
		fuzz_completion_to_sse(text, in.left, (how & 4) != 0);
		break;
	case 1:
		fuzz_completion_chunks(text, in.left);
		break;
	default:
		fuzz_completion_offline(text, in.left);
		break;
	}
	return 0;
}

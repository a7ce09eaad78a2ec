/* test_completion.c — whole answers told as OpenAI SSE chunks, streams gathered back into whole answers, and the offline answer. */
#include <stdlib.h>
#include <string.h>

#include "completion.h"
#include "jsonscan.h"
#include "completion_oracle.h"
#include "rng.h"
#include "suites.h"

#define HEAD "\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-x\""

static const char plain[] =
	"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-x\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello there\",\"refusal\":null},"
	"\"logprobs\":null,\"finish_reason\":\"stop\"}],"
	"\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}";

static const char with_tools[] =
	"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-x\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	"{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
	"{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"time\",\"arguments\":\"{}\"}}],"
	"\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}";

static const char two_choices[] =
	"{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"first \\\"quoted\\\"\\nline\","
	"\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"},"
	"{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"zweite Antwort \\u00e9\\u20ac\","
	"\"refusal\":null,\"tool_calls\":[{\"id\":\"call_z\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}}]},"
	"\"logprobs\":null,\"finish_reason\":\"length\"}],"
	"\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}";

static json_t *parse(const char *text, size_t len)
{
	json_error_t error;
	json_t *v = json_loadb(text, len, JSON_ALLOW_NUL, &error);

	ck_assert_msg(v != NULL, "not JSON (%s): %.*s", error.text, (int)len, text);
	return v;
}

/* The data of every event in an SSE text; each event must be "data: ...\n\n". */
static size_t split_events(const char *sse, char **events, size_t max)
{
	size_t n = 0;

	while (*sse != '\0') {
		const char *end = strstr(sse, "\n\n");

		ck_assert_msg(strncmp(sse, "data: ", 6) == 0, "event without data: %s", sse);
		ck_assert_ptr_nonnull(end);
		ck_assert_uint_lt(n, max);
		events[n++] = strndup(sse + 6, (size_t)(end - sse - 6));
		sse = end + 2;
	}
	return n;
}

static void free_events(char **events, size_t n)
{
	while (n-- > 0)
		free(events[n]);
}

/* The answer told as SSE, fed chunk by chunk to a builder, gathered again. */
static json_t *round_trip(const char *answer, bool include_usage)
{
	struct completion_builder b;
	struct buf sse, out;
	char *events[64];
	size_t n, i;
	json_t *again;

	buf_init(&sse, 1 << 20);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(completion_to_sse(answer, strlen(answer), include_usage, &sse), 0);
	n = split_events(sse.data, events, 64);
	ck_assert_str_eq(events[n - 1], "[DONE]");
	completion_builder_init(&b);
	for (i = 0; i < n; i++)
		completion_builder_add(&b, events[i], strlen(events[i]));
	ck_assert(!b.broken);
	ck_assert_int_eq(completion_builder_finish(&b, &out), 0);
	again = parse(out.data, out.len);
	completion_builder_free(&b);
	free_events(events, n);
	buf_free(&sse);
	buf_free(&out);
	return again;
}

static void assert_same_member(const json_t *a, const json_t *b, const char *key)
{
	char *ta = json_dumps(json_object_get(a, key), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char *tb = json_dumps(json_object_get(b, key), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	/* json_equal calls two absent members different. */
	ck_assert_msg((ta == NULL && tb == NULL) || json_equal(json_object_get(a, key), json_object_get(b, key)),
		      "%s: %s != %s", key, ta, tb);
	free(ta);
	free(tb);
}

/* v, keys sorted, is the JSON text want. */
static void assert_json_text(const json_t *v, const char *want)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	ck_assert_msg(text != NULL && strcmp(text, want) == 0, "got %s, want %s", text, want);
	free(text);
}

/* Feeds each chunk (NULL-terminated list) and returns the finished answer
 * text, or NULL when finish failed. */
static char *gather(const char *const *chunks)
{
	struct completion_builder b;
	struct buf out;
	char *text;

	completion_builder_init(&b);
	buf_init(&out, 1 << 20);
	for (; *chunks != NULL; chunks++)
		completion_builder_add(&b, *chunks, strlen(*chunks));
	if (completion_builder_finish(&b, &out) != 0) {
		ck_assert_uint_eq(out.len, 0);
		buf_free(&out);
		completion_builder_free(&b);
		return NULL;
	}
	completion_builder_free(&b);
	text = buf_take(&out, NULL);
	return text;
}

START_TEST(plain_answer_streams_as_role_content_finish_and_done)
{
	struct buf out;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(completion_to_sse(plain, strlen(plain), false, &out), 0);
	ck_assert_str_eq(out.data,
			 "data: {" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
			 "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
			 "data: {" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello there\"},"
			 "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
			 "data: {" HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
			 "data: [DONE]\n\n");
	buf_free(&out);
}
END_TEST

START_TEST(usage_chunk_comes_only_with_include_usage)
{
	struct buf out;
	char *events[16];
	size_t n;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(completion_to_sse(plain, strlen(plain), true, &out), 0);
	n = split_events(out.data, events, 16);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(events[3], "{" HEAD ",\"choices\":[],"
			 "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}");
	ck_assert_str_eq(events[4], "[DONE]");
	free_events(events, n);
	buf_reset(&out);
	ck_assert_int_eq(completion_to_sse(plain, strlen(plain), false, &out), 0);
	ck_assert_ptr_null(strstr(out.data, "usage"));
	buf_free(&out);
}
END_TEST

START_TEST(include_usage_without_usage_in_the_answer_adds_nothing)
{
	struct buf out;
	char *events[16];
	size_t n;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(completion_to_sse(with_tools, strlen(with_tools), true, &out), 0);
	n = split_events(out.data, events, 16);
	ck_assert_uint_eq(n, 4);
	ck_assert_ptr_null(strstr(out.data, "usage"));
	free_events(events, n);
	buf_free(&out);
}
END_TEST

START_TEST(tool_calls_stream_whole_at_their_index)
{
	struct buf out;
	char *events[16];
	size_t n;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(completion_to_sse(with_tools, strlen(with_tools), false, &out), 0);
	n = split_events(out.data, events, 16);
	ck_assert_uint_eq(n, 4);   /* role, tool calls, finish, [DONE]: no content chunk for null */
	ck_assert_str_eq(events[0], "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
			 "\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}");
	ck_assert_str_eq(events[1],
			 "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
			 "{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"weather\","
			 "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
			 "{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"time\","
			 "\"arguments\":\"{}\"}}]},\"logprobs\":null,\"finish_reason\":null}]}");
	ck_assert_str_eq(events[2], "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}");
	free_events(events, n);
	buf_free(&out);
}
END_TEST

START_TEST(several_choices_stream_one_after_another)
{
	struct buf out;
	char *events[32];
	size_t n, i;
	const int want_index[] = { 0, 0, 0, 1, 1, 1, 1 };

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(completion_to_sse(two_choices, strlen(two_choices), true, &out), 0);
	n = split_events(out.data, events, 32);
	/* 0: role, content, finish; 1: role, content, tool calls, finish; usage; [DONE] */
	ck_assert_uint_eq(n, 9);
	for (i = 0; i < 7; i++) {
		json_t *chunk = parse(events[i], strlen(events[i]));
		json_t *choices = json_object_get(chunk, "choices");

		ck_assert_str_eq(json_string_value(json_object_get(chunk, "id")), "chatcmpl-2");
		ck_assert_str_eq(json_string_value(json_object_get(chunk, "object")), "chat.completion.chunk");
		ck_assert_uint_eq(json_array_size(choices), 1);
		ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(choices, 0), "index")),
				 want_index[i]);
		json_decref(chunk);
	}
	ck_assert_ptr_nonnull(strstr(events[7], "\"choices\":[]"));
	free_events(events, n);
	buf_free(&out);
}
END_TEST

START_TEST(answers_survive_sse_and_the_builder_unchanged)
{
	const char *const answers[] = { plain, with_tools, two_choices };
	size_t i;

	for (i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		json_t *before = parse(answers[i], strlen(answers[i]));
		json_t *after = round_trip(answers[i], true);

		assert_same_member(before, after, "id");
		assert_same_member(before, after, "object");
		assert_same_member(before, after, "created");
		assert_same_member(before, after, "model");
		assert_same_member(before, after, "choices");
		/* An answer told without usage comes back with usage zero: the schema wants one. */
		if (json_object_get(before, "usage") != NULL)
			assert_same_member(before, after, "usage");
		else
			assert_json_text(json_object_get(after, "usage"),
					 "{\"completion_tokens\":0,\"prompt_tokens\":0,\"total_tokens\":0}");
		json_decref(before);
		json_decref(after);
	}
}
END_TEST

START_TEST(reasoning_content_survives_sse_and_the_builder)
{
	static const char answer[] =
		"{\"id\":\"r\",\"object\":\"chat.completion\",\"created\":3,\"model\":\"m\",\"choices\":[{\"index\":0,"
		"\"message\":{\"role\":\"assistant\",\"content\":\"Sunny.\",\"refusal\":null,"
		"\"reasoning_content\":\"First, the forecast.\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
		"\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}";
	json_t *before = parse(answer, strlen(answer)), *after = round_trip(answer, true);

	/* A cached answer rebuilt from a translated Anthropic stream keeps its thinking. */
	assert_same_member(before, after, "choices");
	assert_same_member(before, after, "usage");
	json_decref(before);
	json_decref(after);
}
END_TEST

START_TEST(text_with_escapes_nul_and_unicode_survives_the_round_trip)
{
	const char *answer =
		"{\"id\":\"x\",\"object\":\"chat.completion\",\"created\":2,\"model\":\"m\",\"choices\":[{\"index\":0,"
		"\"message\":{\"role\":\"assistant\",\"content\":\"a\\u0000b \\\"c\\\" \\\\ \\t \\ud83d\\ude00 \\u00fc\"},"
		"\"finish_reason\":\"stop\"}]}";
	json_t *after = round_trip(answer, false);
	json_t *content = json_object_get(json_object_get(json_array_get(json_object_get(after, "choices"), 0),
							  "message"), "content");

	ck_assert_uint_eq(json_string_length(content), 19);
	ck_assert_int_eq(memcmp(json_string_value(content), "a\0b \"c\" \\ \t \xf0\x9f\x98\x80 \xc3\xbc", 19), 0);
	json_decref(after);
}
END_TEST

START_TEST(what_is_not_a_completion_is_refused)
{
	static const char *const not_answers[] = {
		"{\"error\":{\"message\":\"rate limited\",\"type\":\"rate_limit\"}}",
		"{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{}}]}",
		"{\"object\":\"chat.completion\",\"choices\":{}}",
		"{\"object\":\"chat.completion\",\"choices\":[{\"index\":0}]}",
		"{\"object\":\"chat.completion\",\"choices\":[17]}",
		"[1,2,3]",
		"not json at all",
		"{\"object\":\"chat.completion\",\"choices\":[]",
		"",
	};
	struct buf out;
	size_t i;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(buf_append_str(&out, "kept"), 0);
	for (i = 0; i < sizeof not_answers / sizeof not_answers[0]; i++) {
		ck_assert_msg(completion_to_sse(not_answers[i], strlen(not_answers[i]), true, &out) == -1, "%s",
			      not_answers[i]);
		ck_assert_str_eq(out.data, "kept");
	}
	buf_free(&out);
}
END_TEST

START_TEST(sse_that_does_not_fit_fails_and_leaves_out_unchanged)
{
	struct buf out;

	/* Room for the first chunks but not for [DONE]. */
	buf_init(&out, 400);
	ck_assert_int_eq(buf_append_str(&out, "kept"), 0);
	ck_assert_int_eq(completion_to_sse(plain, strlen(plain), false, &out), -1);
	ck_assert_str_eq(out.data, "kept");
	buf_free(&out);
}
END_TEST

START_TEST(offline_answer_has_the_chat_completion_shape)
{
	struct buf out;
	json_t *answer;
	char *again;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(completion_offline("We are offline. \"Sorry\".", "abc123", 1700000123, &out), 0);
	ck_assert_str_eq(out.data,
			 "{\"id\":\"chatcmpl-detour-abc123\",\"object\":\"chat.completion\",\"created\":1700000123,"
			 "\"model\":\"detour-offline\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
			 "\"content\":\"We are offline. \\\"Sorry\\\".\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
			 "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}}");
	/* And it streams like any other answer. */
	answer = round_trip(out.data, true);
	again = json_dumps(answer, JSON_COMPACT);
	ck_assert_str_eq(again, out.data);
	free(again);
	json_decref(answer);
	buf_free(&out);
}
END_TEST

START_TEST(offline_answer_refuses_text_that_is_not_utf8)
{
	struct buf out;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(completion_offline("bad \xff byte", "1", 0, &out), -1);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
	buf_init(&out, 10);
	ck_assert_int_eq(completion_offline("too long for ten bytes", "1", 0, &out), -1);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
}
END_TEST

START_TEST(builder_gathers_tool_call_arguments_arriving_in_pieces)
{
	/* As OpenAI streams a parallel tool call, usage last. */
	static const char *const chunks[] = {
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
		"\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_w\",\"type\":\"function\","
		"\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}],\"refusal\":null},\"logprobs\":null,"
		"\"finish_reason\":null}],\"usage\":null}",
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"lo\"}}]},"
		"\"finish_reason\":null}],\"usage\":null}",
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"cation\\\": \"}}]},"
		"\"finish_reason\":null}],\"usage\":null}",
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},"
		"\"finish_reason\":null}],\"usage\":null}",
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_t\",\"type\":\"function\","
		"\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}",
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{\\\"tz\\\":\"}}]},"
		"\"finish_reason\":null}],\"usage\":null}",
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"CET\\\"}\"}}]},"
		"\"finish_reason\":null}],\"usage\":null}",
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null}",
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
		"\"choices\":[],\"usage\":{\"prompt_tokens\":80,\"completion_tokens\":40,\"total_tokens\":120}}",
		"[DONE]",
		NULL,
	};
	char *answer = gather(chunks);

	ck_assert_ptr_nonnull(answer);
	ck_assert_str_eq(answer,
			 "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o\","
			 "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":null,\"tool_calls\":["
			 "{\"id\":\"call_w\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
			 "\"arguments\":\"{\\\"location\\\": \\\"Paris\\\"}\"}},"
			 "{\"id\":\"call_t\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
			 "\"arguments\":\"{\\\"tz\\\":\\\"CET\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
			 "\"usage\":{\"prompt_tokens\":80,\"completion_tokens\":40,\"total_tokens\":120}}");
	free(answer);
}
END_TEST

START_TEST(builder_gathers_interleaved_choices_by_index)
{
	static const char *const chunks[] = {
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":1,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}",
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"Bon\"}}]}",
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}},"
		"{\"index\":1,\"delta\":{\"content\":\"jour\"}}]}",
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":1,\"delta\":{},\"finish_reason\":\"length\"}]}",
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
		NULL,
	};
	char *answer = gather(chunks);

	ck_assert_ptr_nonnull(answer);
	ck_assert_str_eq(answer,
			 "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":5,\"model\":\"m\",\"choices\":["
			 "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\",\"refusal\":null},"
			 "\"logprobs\":null,\"finish_reason\":\"stop\"},"
			 "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"Bonjour\",\"refusal\":null},"
			 "\"logprobs\":null,\"finish_reason\":\"length\"}],"
			 "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}}");
	free(answer);
}
END_TEST

START_TEST(builder_keeps_the_first_id_and_the_last_finish_reason)
{
	static const char *const chunks[] = {
		"{\"id\":\"first\",\"created\":5,\"model\":\"m1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}",
		"{\"id\":\"second\",\"created\":6,\"model\":\"m2\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},"
		"\"finish_reason\":\"length\"}]}",
		"{\"id\":\"second\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
		"{\"id\":\"second\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":null}]}",
		NULL,
	};
	char *answer = gather(chunks);

	ck_assert_ptr_nonnull(answer);
	ck_assert_str_eq(answer,
			 "{\"id\":\"first\",\"object\":\"chat.completion\",\"created\":5,\"model\":\"m1\",\"choices\":["
			 "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ab\",\"refusal\":null},"
			 "\"logprobs\":null,\"finish_reason\":\"stop\"}],"
			 "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}}");
	free(answer);
}
END_TEST

START_TEST(builder_without_text_gives_null_content_and_no_tool_calls)
{
	static const char *const chunks[] = {
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
		"{\"id\":\"c\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"content_filter\"}]}",
		NULL,
	};
	char *answer = gather(chunks);

	ck_assert_ptr_nonnull(answer);
	ck_assert_str_eq(answer,
			 "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":5,\"model\":\"m\",\"choices\":["
			 "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":null},"
			 "\"logprobs\":null,\"finish_reason\":\"content_filter\"}],"
			 "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}}");
	free(answer);
}
END_TEST

START_TEST(broken_chunk_makes_finish_fail)
{
	static const char *const not_json[] = {
		"{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}",
		"{\"id\":\"c\",\"choices\":[{\"index\":0,\"del",
		"{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
		NULL,
	};
	static const char *const error_mid_stream[] = {
		"{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}",
		"{\"error\":{\"message\":\"upstream overloaded\",\"type\":\"server_error\"}}",
		"{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
		NULL,
	};
	static const char *const content_not_text[] = {
		"{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":42},\"finish_reason\":\"stop\"}]}",
		NULL,
	};
	static const char *const absurd_index[] = {
		"{\"id\":\"c\",\"choices\":[{\"index\":100000000,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}",
		NULL,
	};
	static const char *const not_an_object[] = {
		"[{\"id\":\"c\"}]",
		NULL,
	};

	ck_assert_ptr_null(gather(not_json));
	ck_assert_ptr_null(gather(error_mid_stream));
	ck_assert_ptr_null(gather(content_not_text));
	ck_assert_ptr_null(gather(absurd_index));
	ck_assert_ptr_null(gather(not_an_object));
}
END_TEST

START_TEST(builder_with_nothing_usable_fails)
{
	static const char *const nothing[] = { NULL };
	static const char *const usage_only[] = {
		"{\"id\":\"c\",\"choices\":[],\"usage\":{\"total_tokens\":1}}",
		NULL,
	};
	static const char *const cut_before_finish[] = {
		"{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hal\"}}]}",
		NULL,
	};

	ck_assert_ptr_null(gather(nothing));
	ck_assert_ptr_null(gather(usage_only));
	ck_assert_ptr_null(gather(cut_before_finish));
}
END_TEST

START_TEST(builder_finish_that_does_not_fit_fails_and_leaves_out_unchanged)
{
	static const char chunk[] =
		"{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a long enough answer\"},"
		"\"finish_reason\":\"stop\"}]}";
	struct completion_builder b;
	struct buf out;

	completion_builder_init(&b);
	completion_builder_add(&b, chunk, strlen(chunk));
	buf_init(&out, 32);
	ck_assert_int_eq(buf_append_str(&out, "kept"), 0);
	ck_assert_int_eq(completion_builder_finish(&b, &out), -1);
	ck_assert_str_eq(out.data, "kept");
	buf_free(&out);
	completion_builder_free(&b);
	/* Freed twice is harmless: free leaves an empty builder. */
	completion_builder_free(&b);
}
END_TEST

/* --- the builder against the jansson one it replaced --------------------- */

/* Feeds chunks to both builders and checks they agree: both fail, or both
 * give the same bytes. Returns whether they gave an answer. */
static bool builder_agrees(const char *const *chunks, size_t n)
{
	struct completion_builder b, v;
	struct completion_oracle o;
	struct buf got, want, valid;
	int grc, wrc, vrc;
	size_t i;

	completion_builder_init(&b);
	completion_builder_init(&v);
	completion_oracle_init(&o);
	buf_init(&got, 1 << 20);
	buf_init(&want, 1 << 20);
	buf_init(&valid, 1 << 20);
	for (i = 0; i < n; i++) {
		completion_builder_add(&b, chunks[i], strlen(chunks[i]));
		completion_oracle_add(&o, chunks[i], strlen(chunks[i]));
		/* What a relay's dialect checked goes in unchecked; what it would
		 * refuse never reaches the builder, and breaks the stream. */
		if (jsonscan_valid(chunks[i], strlen(chunks[i])))
			completion_builder_add_valid(&v, chunks[i], strlen(chunks[i]));
		else
			completion_builder_add(&v, chunks[i], strlen(chunks[i]));
	}
	grc = completion_builder_finish(&b, &got);
	wrc = completion_oracle_finish(&o, &want);
	vrc = completion_builder_finish(&v, &valid);
	ck_assert_msg(grc == wrc, "finish %d, the old builder's %d (chunk 0: %s)", grc, wrc, n > 0 ? chunks[0] : "");
	ck_assert_msg(vrc == grc, "finish of valid chunks %d, of checked ones %d", vrc, grc);
	if (grc == 0) {
		ck_assert_msg(got.len == want.len && memcmp(got.data, want.data, got.len) == 0, "got  %s\nwant %s",
			      got.data, want.data);
		ck_assert_msg(valid.len == got.len && memcmp(valid.data, got.data, got.len) == 0, "valid %s\ngot   %s",
			      valid.data, got.data);
	}
	buf_free(&got);
	buf_free(&want);
	buf_free(&valid);
	completion_builder_free(&b);
	completion_builder_free(&v);
	completion_oracle_free(&o);
	return grc == 0;
}

#define BUILDER_AGREES(...) do { \
		static const char *const chunks_[] = { __VA_ARGS__ }; \
		builder_agrees(chunks_, sizeof chunks_ / sizeof *chunks_); \
	} while (0)

START_TEST(builder_writes_what_the_jansson_builder_wrote)
{
	/* Plain text, a fingerprint, usage with details, [DONE]. */
	BUILDER_AGREES("{" HEAD ",\"system_fingerprint\":\"fp\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}",
		       "{" HEAD ",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7,"
		       "\"prompt_tokens_details\":{\"cached_tokens\":0},\"ratio\":0.70,\"big\":1e3,\"s\":\"\\u00e9\\/\"}}",
		       " [DONE] ");
	/* Escapes of every kind, split between pieces; NUL, capital and small hex, a surrogate pair. */
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\u0000\\u001b\\u001F\\u007f\\u00E9\\u20ac\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\"}}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\u0041\\u0022\\u005c\"},\"finish_reason\":\"st\\u006fp\"}]}");
	/* Tool calls in pieces, two of them, names and ids repeated, a hole, a type left out, arguments absent. */
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]}}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_z\",\"function\":{\"name\":\"other\",\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":2,\"function\":{\"name\":\"time\"}},{\"index\":3}]}}]}",
		       "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}");
	/* Calls with no index take their place in the list. */
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"1\"}},{\"id\":\"b\",\"type\":\"custom\",\"function\":{\"name\":\"g\",\"arguments\":\"2\"}}]},\"finish_reason\":\"tool_calls\"}]}");
	/* A refusal, reasoning, several choices interleaved with a hole, an empty finish reason. */
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":2,\"delta\":{\"role\":\"assistant\",\"refusal\":\"I can\"}},{\"index\":0,\"delta\":{\"reasoning_content\":\"think\",\"content\":\"A\"}}]}",
		       "{" HEAD ",\"choices\":[{\"index\":2,\"delta\":{\"refusal\":\"not.\"},\"finish_reason\":\"stop\"},{\"index\":0,\"delta\":{\"reasoning_content\":\"ing\",\"content\":\"B\"},\"finish_reason\":\"\"}]}");
	/* A whole message closing the stream, usage in every chunk (the last wins), ids not strings. */
	BUILDER_AGREES("{\"id\":null,\"model\":\"m\",\"created\":1.5,\"choices\":[{\"index\":0,\"delta\":null,\"message\":{\"role\":\"assistant\",\"content\":\"whole\"},\"finish_reason\":\"stop\"}],\"usage\":{\"total_tokens\":1}}",
		       "{\"id\":7,\"model\":\"n\",\"created\":-0,\"choices\":null,\"usage\":{\"total_tokens\":2}}");
	/* Members written in another order, with white space and escaped keys; a repeated key (the last wins). */
	BUILDER_AGREES(" { \"choices\" : [ { \"finish_reason\" : \"stop\" , \"delta\" : { \"c\\u006fntent\" : \"x\" , \"content\" : \"y\" } , \"index\" : 0 } ] , \"model\" : \"m\" } ");
	/* What breaks the stream. */
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}", "{\"error\":{\"message\":\"cut\"}}");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}", "{\"choices\":[{\"index\":0,\"delta\":{\"content\":5}}]}");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}", "{\"choices\":[{\"index\":-1,\"delta\":{}}]}");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}", "{\"choices\":[{\"index\":128,\"delta\":{}}]}");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}", "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":\"f\"}]}}]}");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}", "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\ud800x\"}}]}");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}", "{\"choices\":{}}");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}", "[1]");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}", "{\"choices\":[");
	BUILDER_AGREES("{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}");
}
END_TEST

/* Pieces a random stream is made of: text with escapes, tool calls, refusals, usage. */
static const char *const builder_pieces[] = {
	"{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":%d,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"content\":\"caf\\u00e9 \\\"q\\\" \\n\"}}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"content\":\"\xe2\x82\xac\\t\\u0001\"},\"logprobs\":null}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"refusal\":\"no \\\\ way\"}}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"reasoning_content\":\"hm\\/m\"}}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\":\\\"\\u00e9\\\"}\"}}]}}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_0\",\"function\":{\"name\":\"g\"}}]}}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{},\"finish_reason\":\"stop\"}]}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"content\":null},\"finish_reason\":\"length\"}]}",
	"{\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":2,\"total_tokens\":3}}",
	"{\"choices\":[{\"index\":%d,\"delta\":{\"content\":7}}]}",
};

START_TEST(builder_agrees_with_the_jansson_builder_on_random_streams)
{
	struct rng r;
	char texts[12][512];
	const char *chunks[12];
	int round, i, answered = 0;

	rng_seed_with(&r, 19);
	for (round = 0; round < 2000; round++) {
		int n = 1 + (int)(rng_next(&r) % 12);

		for (i = 0; i < n; i++) {
			/* The last piece (a number for content) breaks a stream: rarely drawn. */
			size_t k = rng_next(&r) % (sizeof builder_pieces / sizeof *builder_pieces - (rng_next(&r) % 8 ? 1 : 0));

			snprintf(texts[i], sizeof texts[i], builder_pieces[k], (int)(rng_next(&r) % 3));
			chunks[i] = texts[i];
		}
		answered += builder_agrees(chunks, (size_t)n);
	}
	/* The draws must reach answers, not only streams that fail. */
	ck_assert_int_gt(answered, 200);
}
END_TEST

Suite *completion_suite(void)
{
	Suite *s = suite_create("completion");
	TCase *sse = tcase_create("to_sse");
	TCase *builder = tcase_create("builder");

	tcase_add_test(sse, plain_answer_streams_as_role_content_finish_and_done);
	tcase_add_test(sse, usage_chunk_comes_only_with_include_usage);
	tcase_add_test(sse, include_usage_without_usage_in_the_answer_adds_nothing);
	tcase_add_test(sse, tool_calls_stream_whole_at_their_index);
	tcase_add_test(sse, several_choices_stream_one_after_another);
	tcase_add_test(sse, answers_survive_sse_and_the_builder_unchanged);
	tcase_add_test(sse, reasoning_content_survives_sse_and_the_builder);
	tcase_add_test(sse, text_with_escapes_nul_and_unicode_survives_the_round_trip);
	tcase_add_test(sse, what_is_not_a_completion_is_refused);
	tcase_add_test(sse, sse_that_does_not_fit_fails_and_leaves_out_unchanged);
	tcase_add_test(sse, offline_answer_has_the_chat_completion_shape);
	tcase_add_test(sse, offline_answer_refuses_text_that_is_not_utf8);
	suite_add_tcase(s, sse);

	tcase_add_test(builder, builder_gathers_tool_call_arguments_arriving_in_pieces);
	tcase_add_test(builder, builder_gathers_interleaved_choices_by_index);
	tcase_add_test(builder, builder_keeps_the_first_id_and_the_last_finish_reason);
	tcase_add_test(builder, builder_without_text_gives_null_content_and_no_tool_calls);
	tcase_add_test(builder, broken_chunk_makes_finish_fail);
	tcase_add_test(builder, builder_with_nothing_usable_fails);
	tcase_add_test(builder, builder_finish_that_does_not_fit_fails_and_leaves_out_unchanged);
	tcase_add_test(builder, builder_writes_what_the_jansson_builder_wrote);
	tcase_add_test(builder, builder_agrees_with_the_jansson_builder_on_random_streams);
	suite_add_tcase(s, builder);
	return s;
}

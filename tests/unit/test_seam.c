/* test_seam.c — several upstreams' chunks as one stream: the head kept, the role once, the overlap trimmed, usage summed, tool calls noticed. */
#include <string.h>

#include <jansson.h>

#include "seam.h"
#include "suites.h"

#define FIRST_HEAD "\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":100,\"model\":\"gpt-4o\""
#define OTHER_HEAD "\"id\":\"msg_2\",\"object\":\"chat.completion.chunk\",\"created\":200,\"model\":\"claude\""

static const char *first_chunk(const char *content)
{
	static char b[512];

	snprintf(b, sizeof b, "{" FIRST_HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}",
		 content);
	return b;
}

static const char *other_chunk(const char *delta, const char *finish)
{
	static char b[512];

	snprintf(b, sizeof b, "{" OTHER_HEAD ",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}", delta,
		 finish);
	return b;
}

/* Feeds a chunk; returns its content as the client gets it ("" when dropped). */
static char *feed(struct seam *s, const char *chunk, enum seam_result *r, json_t **root)
{
	static char content[512];
	struct buf out;
	const char *text;

	buf_init(&out, 1 << 20);
	*r = seam_chunk(s, chunk, strlen(chunk), &out);
	ck_assert_int_ne(*r, SEAM_FAILED);
	*root = *r == SEAM_REWRITTEN ? json_loadb(out.data, out.len, 0, NULL) :
		*r == SEAM_PASS ? json_loads(chunk, 0, NULL) : NULL;
	text = *root != NULL ? json_string_value(json_object_get(json_object_get(json_array_get(
			json_object_get(*root, "choices"), 0), "delta"), "content")) : NULL;
	snprintf(content, sizeof content, "%s", text != NULL ? text : "");
	buf_free(&out);
	return content;
}

START_TEST(the_first_upstream_passes_and_is_noted)
{
	struct seam s;
	enum seam_result r;
	json_t *root;
	size_t len;

	seam_init(&s);
	ck_assert_str_eq(feed(&s, first_chunk("Hello "), &r, &root), "Hello ");
	ck_assert_int_eq(r, SEAM_PASS);
	json_decref(root);
	feed(&s, first_chunk("world"), &r, &root);
	json_decref(root);
	ck_assert(memcmp(seam_text(&s, &len), "Hello world", 11) == 0);
	ck_assert_uint_eq(len, 11);
	ck_assert(!s.in_tool_call);
	seam_free(&s);
}
END_TEST

START_TEST(a_continuation_wears_the_first_head_without_a_second_role)
{
	struct seam s;
	enum seam_result r;
	json_t *root;

	seam_init(&s);
	feed(&s, first_chunk("Hello "), &r, &root);
	json_decref(root);
	seam_switch(&s);
	feed(&s, other_chunk("{\"role\":\"assistant\",\"content\":\"\"}", "null"), &r, &root);
	ck_assert_int_eq(r, SEAM_DROP);
	ck_assert_str_eq(feed(&s, other_chunk("{\"content\":\"there, friend\"}", "null"), &r, &root), "there, friend");
	ck_assert_int_eq(r, SEAM_REWRITTEN);
	ck_assert_str_eq(json_string_value(json_object_get(root, "id")), "chatcmpl-1");
	ck_assert_int_eq(json_integer_value(json_object_get(root, "created")), 100);
	ck_assert_str_eq(json_string_value(json_object_get(root, "model")), "gpt-4o");
	json_decref(root);
	seam_free(&s);
}
END_TEST

START_TEST(overlap_is_found_only_when_long_enough_or_blank)
{
	ck_assert_uint_eq(seam_overlap("the lazy dog", 12, "lazy dog runs", 13), 8);
	ck_assert_uint_eq(seam_overlap("Hello ", 6, " world", 6), 1);
	ck_assert_uint_eq(seam_overlap("I think", 7, "ink about it", 12), 0);
	ck_assert_uint_eq(seam_overlap("abc", 3, "xyz", 3), 0);
}
END_TEST

START_TEST(a_repeated_start_is_trimmed_across_chunks)
{
	struct seam s;
	enum seam_result r;
	json_t *root;

	seam_init(&s);
	feed(&s, first_chunk("The quick brown fox jumps"), &r, &root);
	json_decref(root);
	seam_switch(&s);
	/* "brown" may still be a repetition: held. */
	ck_assert_str_eq(feed(&s, other_chunk("{\"content\":\"brown\"}", "null"), &r, &root), "");
	ck_assert_int_eq(r, SEAM_DROP);
	ck_assert_str_eq(feed(&s, other_chunk("{\"content\":\" fox jumps over\"}", "null"), &r, &root), " over");
	json_decref(root);
	ck_assert_str_eq(feed(&s, other_chunk("{\"content\":\" the dog\"}", "null"), &r, &root), " the dog");
	json_decref(root);
	seam_free(&s);
}
END_TEST

START_TEST(a_held_start_that_is_not_repeated_goes_whole)
{
	struct seam s;
	enum seam_result r;
	json_t *root;

	seam_init(&s);
	feed(&s, first_chunk("The quick brown fox jumps"), &r, &root);
	json_decref(root);
	seam_switch(&s);
	feed(&s, other_chunk("{\"content\":\"brown\"}", "null"), &r, &root);
	ck_assert_str_eq(feed(&s, other_chunk("{\"content\":\" cow\"}", "null"), &r, &root), "brown cow");
	json_decref(root);
	/* A finish flushes what is held. */
	seam_switch(&s);
	feed(&s, other_chunk("{\"content\":\"brown\"}", "null"), &r, &root);
	ck_assert_str_eq(feed(&s, other_chunk("{}", "\"stop\""), &r, &root), "brown");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(root, "choices"), 0),
							     "finish_reason")), "stop");
	json_decref(root);
	ck_assert(s.finished);
	seam_free(&s);
}
END_TEST

START_TEST(usage_is_the_sum_of_every_segment)
{
	struct seam s;
	enum seam_result r;
	json_t *root, *usage;
	const char *first = "{" FIRST_HEAD ",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3,"
			    "\"total_tokens\":13}}";
	const char *second = "{" OTHER_HEAD ",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,"
			     "\"total_tokens\":17}}";

	seam_init(&s);
	feed(&s, first, &r, &root);
	json_decref(root);
	seam_switch(&s);
	feed(&s, second, &r, &root);
	ck_assert_int_eq(r, SEAM_REWRITTEN);
	usage = json_object_get(root, "usage");
	ck_assert_int_eq(json_integer_value(json_object_get(usage, "prompt_tokens")), 22);
	ck_assert_int_eq(json_integer_value(json_object_get(usage, "completion_tokens")), 8);
	ck_assert_int_eq(json_integer_value(json_object_get(usage, "total_tokens")), 30);
	json_decref(root);
	seam_free(&s);
}
END_TEST

START_TEST(an_open_tool_call_is_noticed)
{
	struct seam s;
	enum seam_result r;
	json_t *root;
	const char *call = "{" FIRST_HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
			   "\"function\":{\"arguments\":\"{\\\"ci\"}}]},\"finish_reason\":null}]}";
	const char *finish = "{" FIRST_HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}";

	seam_init(&s);
	feed(&s, call, &r, &root);
	json_decref(root);
	ck_assert(s.in_tool_call);
	feed(&s, finish, &r, &root);
	json_decref(root);
	ck_assert(!s.in_tool_call);
	seam_free(&s);
}
END_TEST

START_TEST(not_json_fails)
{
	struct seam s;
	struct buf out;

	seam_init(&s);
	buf_init(&out, 1024);
	ck_assert_int_eq(seam_chunk(&s, "{nope", 5, &out), SEAM_FAILED);
	buf_free(&out);
	seam_free(&s);
}
END_TEST

Suite *seam_suite(void)
{
	Suite *s = suite_create("seam");
	TCase *t = tcase_create("seam");

	tcase_add_test(t, the_first_upstream_passes_and_is_noted);
	tcase_add_test(t, a_continuation_wears_the_first_head_without_a_second_role);
	tcase_add_test(t, overlap_is_found_only_when_long_enough_or_blank);
	tcase_add_test(t, a_repeated_start_is_trimmed_across_chunks);
	tcase_add_test(t, a_held_start_that_is_not_repeated_goes_whole);
	tcase_add_test(t, usage_is_the_sum_of_every_segment);
	tcase_add_test(t, an_open_tool_call_is_noticed);
	tcase_add_test(t, not_json_fails);
	suite_add_tcase(s, t);
	return s;
}

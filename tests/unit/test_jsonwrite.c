/* test_jsonwrite.c — a jansson tree written into a buf: the same text json_dumps writes, all or nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "jsonwrite.h"
#include "suites.h"

/* Documents whose strings hold no control byte but \n, \r and \t (the escapes both writers share). */
static const char *const documents[] = {
	"null", "true", "false", "0", "-7", "9223372036854775807", "-9223372036854775808",
	"0.5", "-0.5", "1.0", "0.7", "3.14159", "1e20", "1.5e-7", "-2.5e+300", "1e-5", "123456789.125", "1e100",
	"\"\"", "\"text\"", "\"q\\\" b\\\\ s/ n\\n r\\r t\\t \\u00e9 \\ud83d\\ude00\"",
	"[]", "{}", "[1,[2,[3,[]]],{}]",
	"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}],\"temperature\":0.2,"
	"\"stream\":true,\"stream_options\":{\"include_usage\":true},\"tools\":[{\"type\":\"function\","
	"\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}],\"n\":null}",
	"{\"z\":1,\"a\":2,\"m\":{\"y\":[true,false,null],\"b\":-0.0}}",
};

START_TEST(a_tree_is_written_as_json_dumps_writes_it)
{
	size_t i;

	for (i = 0; i < sizeof documents / sizeof documents[0]; i++) {
		json_t *v = json_loads(documents[i], JSON_DECODE_ANY, NULL);
		char *want;
		struct buf out;

		ck_assert_msg(v != NULL, "%s", documents[i]);
		want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		buf_init(&out, 1 << 16);
		ck_assert_int_eq(jsonwrite(&out, v), 0);
		ck_assert_str_eq(out.data, want);
		free(want);
		buf_free(&out);
		json_decref(v);
	}
}
END_TEST

START_TEST(a_control_byte_is_escaped_and_the_text_means_the_same)
{
	json_t *v = json_pack("{s:s}", "k", "a\001b\037\b\f"), *back;
	struct buf out;

	buf_init(&out, 1 << 10);
	ck_assert_int_eq(jsonwrite(&out, v), 0);
	back = json_loadb(out.data, out.len, 0, NULL);
	ck_assert_ptr_nonnull(back);
	ck_assert(json_equal(v, back));
	json_decref(back);
	buf_free(&out);
	json_decref(v);
}
END_TEST

START_TEST(a_failed_write_leaves_out_as_it_was)
{
	json_t *v = json_pack("{s:s,s:[i,i]}", "a", "some text that does not fit", "b", 1, 2);
	json_t *bad = json_pack("[i,f]", 1, INFINITY);
	struct buf out;

	buf_init(&out, 16);
	ck_assert_int_eq(buf_append_str(&out, "kept"), 0);
	ck_assert_int_eq(jsonwrite(&out, v), -1);
	ck_assert_str_eq(out.data, "kept");
	ck_assert_int_eq(jsonwrite(&out, bad), -1);
	ck_assert_str_eq(out.data, "kept");
	ck_assert_int_eq(jsonwrite(&out, NULL), -1);
	ck_assert_uint_eq(out.len, 4);
	buf_free(&out);
	json_decref(bad);
	json_decref(v);
}
END_TEST

START_TEST(nesting_past_the_cap_is_refused)
{
	json_t *root = json_array(), *v = root;
	struct buf out;
	int i;

	for (i = 0; i < JSONSCAN_MAX_DEPTH + 1; i++) {
		json_t *inner = json_array();

		json_array_append_new(v, inner);
		v = inner;
	}
	buf_init(&out, 1 << 16);
	ck_assert_int_eq(jsonwrite(&out, root), -1);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
	json_decref(root);
}
END_TEST

Suite *jsonwrite_suite(void)
{
	Suite *s = suite_create("jsonwrite");
	TCase *t = tcase_create("write");

	tcase_add_test(t, a_tree_is_written_as_json_dumps_writes_it);
	tcase_add_test(t, a_control_byte_is_escaped_and_the_text_means_the_same);
	tcase_add_test(t, a_failed_write_leaves_out_as_it_was);
	tcase_add_test(t, nesting_past_the_cap_is_refused);
	suite_add_tcase(s, t);
	return s;
}

/* test_responses_write.c — the response object's bytes: spans read in place as jansson reads them, the envelope equal to responses_object's. */
#include <string.h>

#include "responses.h"
#include "responses_write.h"
#include "suites.h"

static struct jsonscan_value span_of(const char *text)
{
	return (struct jsonscan_value){ text, strlen(text), jsonscan_type_of(text, strlen(text)) };
}

START_TEST(picked_members_are_the_last_of_their_name_and_keys_may_be_escaped)
{
	static const char *const keys[] = { "model", "index" };
	struct jsonscan_value obj = span_of("{\"model\":\"a\",\"x\":[1,{\"model\":2}],\"mod\\u0065l\":\"b\",\"index\":3}");
	struct jsonscan_value got[2], arr = span_of("[{\"k\":1},2]"), first, none = span_of("[]");
	long long v = 0;

	jsonscan_pick(&obj, keys, got, 2);
	ck_assert(jsonscan_value_is(&got[0], "b"));
	ck_assert(jsonscan_integer(&got[1], &v));
	ck_assert_int_eq(v, 3);
	first = jsonscan_first(&arr);
	ck_assert_int_eq(first.type, JSONSCAN_OBJECT);
	ck_assert_uint_eq(first.n, 7);
	ck_assert_ptr_null(jsonscan_first(&none).p);
	/* Not an object: every member absent. */
	jsonscan_pick(&arr, keys, got, 2);
	ck_assert_ptr_null(got[0].p);
	ck_assert_ptr_null(got[1].p);
}
END_TEST

START_TEST(integers_and_counts_read_as_jansson_reads_them)
{
	struct jsonscan_value real = span_of("1.0"), exp = span_of("1e3"), neg = span_of("-4"), big = span_of("99999999999999999999");
	struct jsonscan_value str = span_of("\"5\""), ok = span_of("42");
	long long v;

	ck_assert(!jsonscan_integer(&real, &v));
	ck_assert(!jsonscan_integer(&exp, &v));
	ck_assert(!jsonscan_integer(&big, &v));
	ck_assert(!jsonscan_integer(&str, &v));
	ck_assert(jsonscan_integer(&neg, &v) && v == -4);
	ck_assert_int_eq(responses_write_count(&neg), 0);
	ck_assert_int_eq(responses_write_count(&ok), 42);
}
END_TEST

START_TEST(a_string_with_escapes_is_written_again_and_its_length_decoded)
{
	struct jsonscan_value plain = span_of("\"abc\""), esc = span_of("\"a\\u00e9\\n\\/\"");
	struct buf out;
	size_t n = 0;

	buf_init(&out, 1024);
	ck_assert_int_eq(responses_write_span(&out, &plain, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(responses_write_span(&out, &esc, &n), 0);
	ck_assert_uint_eq(n, 5); /* a, é (2 bytes), \n, / */
	ck_assert_str_eq(out.data, "\"abc\"\"a\xc3\xa9\\n/\"");
	buf_free(&out);
}
END_TEST

START_TEST(the_envelope_is_responses_object_with_its_echoes)
{
	json_t *request = json_loads("{\"model\":\"m\",\"input\":\"x\",\"instructions\":\"be brief\",\"temperature\":0.5,"
				     "\"store\":false,\"metadata\":{\"k\":\"v\"}}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_w", .created_at = 7 };
	struct responses_counts u = { 3, 1, 2, 0, 0 };
	json_t *want = responses_object(&m, "completed"), *got;
	struct buf out;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(responses_write_open(&out, &m, "completed", NULL, NULL, NULL, 0), 0);
	ck_assert_int_eq(responses_write_close(&out, &m, NULL), 0);
	got = json_loadb(out.data, out.len, 0, NULL);
	ck_assert(json_equal(got, want));
	json_decref(got);
	/* A usage of counts: the total is the sum when none was given. */
	buf_reset(&out);
	ck_assert_int_eq(responses_write_usage(&out, &u), 0);
	ck_assert_str_eq(out.data, "{\"input_tokens\":3,\"input_tokens_details\":{\"cached_tokens\":1},\"output_tokens\":2,"
				   "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":5}");
	buf_free(&out);
	json_decref(want);
	json_decref(request);
}
END_TEST

START_TEST(a_native_response_is_adopted_in_place_as_jansson_would_set_it)
{
	json_t *request = json_loads("{\"model\":\"m\",\"input\":\"x\",\"previous_response_id\":\"resp_prev\"}", 0, NULL);
	json_t *bare = json_loads("{\"model\":\"m\",\"input\":\"x\"}", 0, NULL);
	const char *answer = "{ \"id\" : \"resp_up\", \"object\":\"response\",\"temperature\":1.50,"
			     "\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"caf\\u00e9\"}]}],"
			     "\"previous_response_id\":null,\"store\":true,\"usage\":{\"input_tokens\":3}}";
	const char *lacking = "{\"\\u0069d\":\"resp_up\",\"object\":\"response\",\"output\":[]}";
	json_t *want, *got;
	struct buf out;

	buf_init(&out, 1 << 16);
	/* Every member but the three as the upstream wrote it; those three are detour's. */
	ck_assert_int_eq(responses_write_adopted(&out, answer, strlen(answer), request, "resp_detour", false), 0);
	got = json_loadb(out.data, out.len, 0, NULL);
	want = json_loads(answer, 0, NULL);
	json_object_set_new(want, "id", json_string("resp_detour"));
	json_object_set_new(want, "previous_response_id", json_string("resp_prev"));
	json_object_set_new(want, "store", json_false());
	ck_assert(got != NULL && json_equal(got, want));
	ck_assert_ptr_nonnull(strstr(out.data, "\"temperature\":1.50,"));
	ck_assert_ptr_nonnull(strstr(out.data, "caf\\u00e9"));
	json_decref(got);
	json_decref(want);
	/* A key written with escapes is still the id; what the answer lacks is added. */
	buf_reset(&out);
	ck_assert_int_eq(responses_write_adopted(&out, lacking, strlen(lacking), bare, "resp_detour", true), 0);
	ck_assert_str_eq(out.data, "{\"\\u0069d\":\"resp_detour\",\"object\":\"response\",\"output\":[],"
				   "\"previous_response_id\":null,\"store\":true}");
	/* Not an object: nothing to adopt. */
	buf_reset(&out);
	ck_assert_int_ne(responses_write_adopted(&out, "[1]", 3, bare, "resp_detour", true), 0);
	buf_free(&out);
	json_decref(bare);
	json_decref(request);
}
END_TEST

Suite *responses_write_suite(void)
{
	Suite *s = suite_create("responses_write");
	TCase *tc = tcase_create("bytes");

	tcase_add_test(tc, picked_members_are_the_last_of_their_name_and_keys_may_be_escaped);
	tcase_add_test(tc, integers_and_counts_read_as_jansson_reads_them);
	tcase_add_test(tc, a_string_with_escapes_is_written_again_and_its_length_decoded);
	tcase_add_test(tc, the_envelope_is_responses_object_with_its_echoes);
	tcase_add_test(tc, a_native_response_is_adopted_in_place_as_jansson_would_set_it);
	suite_add_tcase(s, tc);
	return s;
}

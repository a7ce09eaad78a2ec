/* test_request.c — a client's body: what parsing takes from it, what it refuses, and the body each target is sent. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "request.h"
#include "suites.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char chat_body[] =
	"{\"model\":\"gpt-4o\","
	"\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	"\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	"\"max_tokens\":1000,"
	"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}],"
	"\"tool_choice\":\"auto\","
	"\"temperature\":0.25,\"user\":\"alice\",\"metadata\":{\"a\":[1,2,{\"b\":null}]}}";

static void parse_ok(struct request *r, enum request_kind kind, const char *body)
{
	struct request_error e;

	memset(&e, 0, sizeof e);
	ck_assert_msg(request_parse(r, kind, body, strlen(body), &e) == 0, "refused: %s", e.message);
	ck_assert_ptr_eq(r->body, body);
	ck_assert_ptr_null(r->root);   /* no tree until one is asked for */
}

/* Parses a body that must be refused; checks r stays untouched and returns the error. */
static struct request_error parse_err(enum request_kind kind, const char *body)
{
	struct request r, untouched;
	struct request_error e;

	memset(&r, 0xa5, sizeof r);
	memcpy(&untouched, &r, sizeof r);
	memset(&e, 0, sizeof e);
	ck_assert_int_eq(request_parse(&r, kind, body, strlen(body), &e), -1);
	ck_assert_int_eq(memcmp(&r, &untouched, sizeof r), 0);
	ck_assert_uint_gt(strlen(e.message), 0);
	return e;
}

static void assert_refused(enum request_kind kind, const char *body, const char *param, const char *code)
{
	struct request_error e = parse_err(kind, body);

	if (param == NULL)
		ck_assert_msg(e.param == NULL, "%s: param %s", body, e.param);
	else
		ck_assert_msg(e.param != NULL && strcmp(e.param, param) == 0, "%s: param %s, not %s", body,
			      e.param != NULL ? e.param : "(null)", param);
	ck_assert_msg(e.code != NULL && strcmp(e.code, code) == 0, "%s: code %s, not %s", body,
		      e.code != NULL ? e.code : "(null)", code);
}

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);

	ck_assert_msg(v != NULL, "not JSON (%s): %s", jerr.text, text);
	return v;
}

/* Rewrites r with c and parses the result back. */
static json_t *rewritten(const struct request *r, const struct request_changes *c)
{
	size_t len = 0;
	char *body = request_rewrite(r, c, &len);
	json_t *v;

	ck_assert_ptr_nonnull(body);
	ck_assert_uint_eq(strlen(body), len);
	v = load(body);
	free(body);
	return v;
}

/* ---- good bodies ---------------------------------------------------------- */

START_TEST(chat_body_gives_model_stream_max_tokens_and_tools)
{
	struct request r;

	parse_ok(&r, REQUEST_CHAT, chat_body);
	ck_assert_int_eq(r.kind, REQUEST_CHAT);
	ck_assert_str_eq(r.model, "gpt-4o");
	ck_assert(r.stream);
	ck_assert(r.has_tools);
	ck_assert_int_eq(r.max_tokens, 1000);
	ck_assert_str_eq(r.max_tokens_key, "max_tokens");
	request_free(&r);
	ck_assert_ptr_null(r.root);
}
END_TEST

START_TEST(bare_chat_body_takes_the_defaults)
{
	struct request r;

	parse_ok(&r, REQUEST_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_str_eq(r.model, "m");
	ck_assert(!r.stream);
	ck_assert(!r.has_tools);
	ck_assert_int_eq(r.max_tokens, -1);
	ck_assert_str_eq(r.max_tokens_key, "max_tokens");
	request_free(&r);
}
END_TEST

START_TEST(null_stream_and_null_max_tokens_count_as_absent)
{
	struct request r;

	parse_ok(&r, REQUEST_CHAT,
		 "{\"model\":\"m\",\"messages\":[1],\"stream\":null,\"max_tokens\":null,\"max_completion_tokens\":null}");
	ck_assert(!r.stream);
	ck_assert_int_eq(r.max_tokens, -1);
	request_free(&r);
}
END_TEST

START_TEST(stream_false_is_not_a_stream)
{
	struct request r;

	parse_ok(&r, REQUEST_CHAT, "{\"model\":\"m\",\"messages\":[1],\"stream\":false}");
	ck_assert(!r.stream);
	request_free(&r);
}
END_TEST

START_TEST(empty_tools_list_is_no_tools)
{
	struct request r;

	parse_ok(&r, REQUEST_CHAT, "{\"model\":\"m\",\"messages\":[1],\"tools\":[]}");
	ck_assert(!r.has_tools);
	request_free(&r);
}
END_TEST

START_TEST(max_completion_tokens_is_read_under_its_own_name)
{
	struct request r;

	parse_ok(&r, REQUEST_CHAT, "{\"model\":\"o1\",\"messages\":[1],\"max_completion_tokens\":4096}");
	ck_assert_int_eq(r.max_tokens, 4096);
	ck_assert_str_eq(r.max_tokens_key, "max_completion_tokens");
	request_free(&r);
}
END_TEST

START_TEST(max_completion_tokens_wins_over_max_tokens)
{
	struct request r;

	parse_ok(&r, REQUEST_CHAT,
		 "{\"model\":\"o1\",\"messages\":[1],\"max_tokens\":50,\"max_completion_tokens\":70}");
	ck_assert_int_eq(r.max_tokens, 70);
	ck_assert_str_eq(r.max_tokens_key, "max_completion_tokens");
	request_free(&r);
}
END_TEST

START_TEST(completions_need_no_messages)
{
	struct request r;

	parse_ok(&r, REQUEST_COMPLETIONS, "{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"Say hi\",\"max_tokens\":7}");
	ck_assert_int_eq(r.kind, REQUEST_COMPLETIONS);
	ck_assert_str_eq(r.model, "gpt-3.5-turbo-instruct");
	ck_assert_int_eq(r.max_tokens, 7);
	request_free(&r);
}
END_TEST

START_TEST(embeddings_with_input_need_no_messages)
{
	struct request r;

	parse_ok(&r, REQUEST_EMBEDDINGS, "{\"model\":\"text-embedding-3-small\",\"input\":[\"a\",\"b\"]}");
	ck_assert_int_eq(r.kind, REQUEST_EMBEDDINGS);
	ck_assert_str_eq(r.model, "text-embedding-3-small");
	ck_assert(!r.stream);
	request_free(&r);
}
END_TEST

START_TEST(surrounding_white_space_is_accepted)
{
	struct request r;

	parse_ok(&r, REQUEST_CHAT, " \n\t{\"model\":\"m\",\"messages\":[1]}\r\n ");
	ck_assert_str_eq(r.model, "m");
	request_free(&r);
}
END_TEST

START_TEST(kinds_have_their_upstream_paths)
{
	ck_assert_str_eq(request_kind_path(REQUEST_CHAT), "/chat/completions");
	ck_assert_str_eq(request_kind_path(REQUEST_COMPLETIONS), "/completions");
	ck_assert_str_eq(request_kind_path(REQUEST_EMBEDDINGS), "/embeddings");
}
END_TEST

/* ---- refused bodies ------------------------------------------------------- */

START_TEST(broken_json_is_refused_as_invalid_json)
{
	static const char *const broken[] = {
		"", "{", "{\"model\":\"m\",", "{\"model\":\"m\"}x", "{'model':'m'}", "{\"model\":\"m\",}", "nul",
	};
	struct request_error e;
	size_t i;

	for (i = 0; i < COUNT(broken); i++)
		assert_refused(REQUEST_CHAT, broken[i], NULL, "invalid_json");
	e = parse_err(REQUEST_CHAT, "{\"model\":");
	ck_assert_msg(strncmp(e.message, "We could not parse the JSON body of your request", 48) == 0, "%s",
		      e.message);
}
END_TEST

START_TEST(body_that_is_not_an_object_is_refused)
{
	static const char *const others[] = { "[]", "[{\"model\":\"m\"}]", "\"model\"", "42", "null", "true" };
	size_t i;

	for (i = 0; i < COUNT(others); i++)
		assert_refused(REQUEST_CHAT, others[i], NULL, "invalid_json");
	ck_assert_str_eq(parse_err(REQUEST_CHAT, "[1]").message, "The request body must be a JSON object.");
}
END_TEST

START_TEST(missing_model_is_a_missing_required_parameter)
{
	assert_refused(REQUEST_CHAT, "{\"messages\":[1]}", "model", "missing_required_parameter");
	assert_refused(REQUEST_COMPLETIONS, "{\"prompt\":\"x\"}", "model", "missing_required_parameter");
	assert_refused(REQUEST_EMBEDDINGS, "{\"input\":\"x\"}", "model", "missing_required_parameter");
	assert_refused(REQUEST_CHAT, "{}", "model", "missing_required_parameter");
}
END_TEST

START_TEST(model_that_is_not_a_non_empty_string_is_refused)
{
	static const char *const bodies[] = {
		"{\"model\":42,\"messages\":[1]}",
		"{\"model\":null,\"messages\":[1]}",
		"{\"model\":[\"gpt-4o\"],\"messages\":[1]}",
		"{\"model\":{\"name\":\"gpt-4o\"},\"messages\":[1]}",
		"{\"model\":true,\"messages\":[1]}",
		"{\"model\":\"\",\"messages\":[1]}",
	};
	size_t i;

	for (i = 0; i < COUNT(bodies); i++)
		assert_refused(REQUEST_CHAT, bodies[i], "model", "invalid_type");
}
END_TEST

START_TEST(chat_without_messages_is_refused)
{
	assert_refused(REQUEST_CHAT, "{\"model\":\"m\"}", "messages", "missing_required_parameter");
}
END_TEST

START_TEST(chat_with_empty_messages_is_refused)
{
	assert_refused(REQUEST_CHAT, "{\"model\":\"m\",\"messages\":[]}", "messages", "empty_array");
}
END_TEST

START_TEST(chat_with_messages_that_are_not_an_array_is_refused)
{
	static const char *const bodies[] = {
		"{\"model\":\"m\",\"messages\":{\"role\":\"user\"}}",
		"{\"model\":\"m\",\"messages\":\"hi\"}",
		"{\"model\":\"m\",\"messages\":null}",
		"{\"model\":\"m\",\"messages\":1}",
	};
	size_t i;

	for (i = 0; i < COUNT(bodies); i++)
		assert_refused(REQUEST_CHAT, bodies[i], "messages", "invalid_type");
}
END_TEST

START_TEST(stream_that_is_not_a_boolean_is_refused)
{
	static const char *const bodies[] = {
		"{\"model\":\"m\",\"messages\":[1],\"stream\":\"true\"}",
		"{\"model\":\"m\",\"messages\":[1],\"stream\":1}",
		"{\"model\":\"m\",\"messages\":[1],\"stream\":{}}",
	};
	size_t i;

	for (i = 0; i < COUNT(bodies); i++)
		assert_refused(REQUEST_CHAT, bodies[i], "stream", "invalid_type");
}
END_TEST

START_TEST(max_tokens_that_is_not_a_positive_integer_is_refused)
{
	static const char *const bodies[] = {
		"{\"model\":\"m\",\"messages\":[1],\"max_tokens\":0}",
		"{\"model\":\"m\",\"messages\":[1],\"max_tokens\":-5}",
		"{\"model\":\"m\",\"messages\":[1],\"max_tokens\":1.5}",
		"{\"model\":\"m\",\"messages\":[1],\"max_tokens\":\"100\"}",
		"{\"model\":\"m\",\"messages\":[1],\"max_tokens\":true}",
	};
	size_t i;

	for (i = 0; i < COUNT(bodies); i++)
		assert_refused(REQUEST_CHAT, bodies[i], "max_tokens", "invalid_value");
	assert_refused(REQUEST_CHAT, "{\"model\":\"m\",\"messages\":[1],\"max_completion_tokens\":\"x\"}",
		       "max_completion_tokens", "invalid_value");
	assert_refused(REQUEST_COMPLETIONS, "{\"model\":\"m\",\"max_tokens\":0}", "max_tokens", "invalid_value");
}
END_TEST

START_TEST(embeddings_without_input_are_refused)
{
	assert_refused(REQUEST_EMBEDDINGS, "{\"model\":\"text-embedding-3-small\"}", "input",
		       "missing_required_parameter");
	assert_refused(REQUEST_EMBEDDINGS, "{\"model\":\"text-embedding-3-small\",\"messages\":[1]}", "input",
		       "missing_required_parameter");
}
END_TEST

/* ---- what a target changes ------------------------------------------------ */

START_TEST(no_changes_leave_the_body_as_sent)
{
	struct request r;
	struct request_changes c = { NULL, 0, 0 };
	json_t *want, *got;

	parse_ok(&r, REQUEST_CHAT, chat_body);
	ck_assert(request_unchanged(&r, &c));
	want = load(chat_body);
	got = rewritten(&r, &c);
	ck_assert(json_equal(want, got));
	json_decref(want);
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(target_model_renames_the_model_and_keeps_the_rest)
{
	struct request r;
	struct request_changes c = { "claude-3-5-haiku-latest", 0, 0 };
	json_t *want, *got;

	parse_ok(&r, REQUEST_CHAT, chat_body);
	ck_assert(!request_unchanged(&r, &c));
	got = rewritten(&r, &c);
	want = load(chat_body);
	json_object_set_new(want, "model", json_string("claude-3-5-haiku-latest"));
	ck_assert(json_equal(want, got));
	json_decref(want);
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(target_model_equal_to_the_clients_is_no_change)
{
	struct request r;
	struct request_changes c = { "gpt-4o", 0, 0 };

	parse_ok(&r, REQUEST_CHAT, chat_body);
	ck_assert(request_unchanged(&r, &c));
	request_free(&r);
}
END_TEST

START_TEST(cap_lowers_a_larger_max_tokens)
{
	struct request r;
	struct request_changes c = { NULL, 512, 0 };
	json_t *want, *got;

	parse_ok(&r, REQUEST_CHAT, chat_body);
	ck_assert(!request_unchanged(&r, &c));
	got = rewritten(&r, &c);
	want = load(chat_body);
	json_object_set_new(want, "max_tokens", json_integer(512));
	ck_assert(json_equal(want, got));
	ck_assert_ptr_null(json_object_get(got, "max_completion_tokens"));
	json_decref(want);
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(cap_never_raises_a_smaller_max_tokens)
{
	struct request r;
	struct request_changes c = { NULL, 512, 0 };
	json_t *got;

	parse_ok(&r, REQUEST_CHAT, "{\"model\":\"m\",\"messages\":[1],\"max_tokens\":100}");
	ck_assert(request_unchanged(&r, &c));
	got = rewritten(&r, &c);
	ck_assert_int_eq(json_integer_value(json_object_get(got, "max_tokens")), 100);
	json_decref(got);
	request_free(&r);

	parse_ok(&r, REQUEST_CHAT, "{\"model\":\"m\",\"messages\":[1],\"max_tokens\":512}");
	ck_assert(request_unchanged(&r, &c));
	got = rewritten(&r, &c);
	ck_assert_int_eq(json_integer_value(json_object_get(got, "max_tokens")), 512);
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(cap_adds_max_tokens_when_the_client_sent_none)
{
	struct request r;
	struct request_changes c = { NULL, 256, 0 };
	json_t *want, *got;
	static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}";

	parse_ok(&r, REQUEST_CHAT, body);
	ck_assert(!request_unchanged(&r, &c));
	got = rewritten(&r, &c);
	want = load(body);
	json_object_set_new(want, "max_tokens", json_integer(256));
	ck_assert(json_equal(want, got));
	json_decref(want);
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(cap_uses_max_completion_tokens_when_the_client_did)
{
	struct request r;
	struct request_changes c = { NULL, 512, 0 };
	json_t *got;

	parse_ok(&r, REQUEST_CHAT, "{\"model\":\"o1\",\"messages\":[1],\"max_completion_tokens\":4096}");
	ck_assert(!request_unchanged(&r, &c));
	got = rewritten(&r, &c);
	ck_assert_int_eq(json_integer_value(json_object_get(got, "max_completion_tokens")), 512);
	ck_assert_ptr_null(json_object_get(got, "max_tokens"));
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(drop_tools_removes_tools_and_tool_choice)
{
	struct request r;
	struct request_changes c = { NULL, 0, CONFIG_DROP_TOOLS };
	json_t *want, *got;

	parse_ok(&r, REQUEST_CHAT, chat_body);
	ck_assert(!request_unchanged(&r, &c));
	got = rewritten(&r, &c);
	want = load(chat_body);
	json_object_del(want, "tools");
	json_object_del(want, "tool_choice");
	ck_assert(json_equal(want, got));
	ck_assert(json_is_true(json_object_get(got, "stream")));
	json_decref(want);
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(drop_tools_without_tools_is_no_change)
{
	struct request r;
	struct request_changes c = { NULL, 0, CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM };

	parse_ok(&r, REQUEST_CHAT, "{\"model\":\"m\",\"messages\":[1],\"max_tokens\":5}");
	ck_assert(request_unchanged(&r, &c));
	request_free(&r);
}
END_TEST

START_TEST(drop_stream_removes_stream_and_stream_options)
{
	struct request r;
	struct request_changes c = { NULL, 0, CONFIG_DROP_STREAM };
	json_t *want, *got;

	parse_ok(&r, REQUEST_CHAT, chat_body);
	ck_assert(!request_unchanged(&r, &c));
	got = rewritten(&r, &c);
	want = load(chat_body);
	json_object_del(want, "stream");
	json_object_del(want, "stream_options");
	ck_assert(json_equal(want, got));
	ck_assert_ptr_nonnull(json_object_get(got, "tools"));
	json_decref(want);
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(minimal_level_applies_every_change_at_once)
{
	struct request r;
	struct request_changes c = { "llama-3.1-8b-instant", 512, CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM };
	json_t *got;

	parse_ok(&r, REQUEST_CHAT, chat_body);
	got = rewritten(&r, &c);
	/* model, messages, max_tokens, temperature, user, metadata. */
	ck_assert_uint_eq(json_object_size(got), 6);
	ck_assert_str_eq(json_string_value(json_object_get(got, "model")), "llama-3.1-8b-instant");
	ck_assert_int_eq(json_integer_value(json_object_get(got, "max_tokens")), 512);
	ck_assert(json_real_value(json_object_get(got, "temperature")) == 0.25);
	ck_assert_str_eq(json_string_value(json_object_get(got, "user")), "alice");
	ck_assert(json_equal(json_object_get(got, "messages"), json_object_get(request_json(&r), "messages")));
	ck_assert(json_equal(json_object_get(got, "metadata"), json_object_get(request_json(&r), "metadata")));
	json_decref(got);
	request_free(&r);
}
END_TEST

START_TEST(a_nul_escape_the_client_sent_still_gives_a_tree)
{
	/* request_parse accepts \u0000 (RFC 8259 does); the tree an Anthropic
	 * target is translated from must hold it too, or that target fails as if
	 * detour were out of memory. */
	static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}";
	struct request r;
	json_t *content;

	parse_ok(&r, REQUEST_CHAT, body);
	ck_assert_ptr_nonnull(request_json(&r));
	content = json_object_get(json_array_get(json_object_get(request_json(&r), "messages"), 0), "content");
	ck_assert_uint_eq(json_string_length(content), 3);
	ck_assert_mem_eq(json_string_value(content), "a\0b", 3);
	request_free(&r);
}
END_TEST

START_TEST(rewrite_leaves_the_parsed_request_as_it_was)
{
	struct request r;
	struct request_changes c = { "llama-3.1-8b-instant", 512, CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM };
	json_t *before, *got;
	char *body;

	parse_ok(&r, REQUEST_CHAT, chat_body);
	before = load(chat_body);
	got = rewritten(&r, &c);
	json_decref(got);
	body = request_rewrite(&r, &c, NULL);
	ck_assert_ptr_nonnull(body);
	free(body);

	ck_assert(json_equal(before, request_json(&r)));
	ck_assert_str_eq(r.body, chat_body);
	ck_assert_str_eq(r.model, "gpt-4o");
	ck_assert(r.stream);
	ck_assert(r.has_tools);
	ck_assert_int_eq(r.max_tokens, 1000);
	ck_assert_str_eq(r.max_tokens_key, "max_tokens");

	/* A second target sees the client's body, not the first target's. */
	c.model = NULL;
	c.max_tokens = 0;
	c.drop = 0;
	got = rewritten(&r, &c);
	ck_assert(json_equal(before, got));
	json_decref(got);
	json_decref(before);
	request_free(&r);
}
END_TEST

START_TEST(fields_are_read_in_place_without_a_tree)
{
	static const char body[] = "{ \"temperature\" : 0 , \"stream_options\": {\"include_usage\": true},"
				   " \"\\u006dodel\": \"gpt-\\u00e9\", \"messages\": [ {\"role\":\"user\"} ] }";
	struct request r;

	parse_ok(&r, REQUEST_CHAT, body);
	ck_assert_str_eq(r.model, "gpt-\xc3\xa9");   /* an escaped key and an escaped value, decoded */
	ck_assert(r.include_usage);
	ck_assert(r.has_temperature);
	ck_assert(r.temperature == 0.0);
	ck_assert(!r.stream);
	ck_assert(!r.has_tools);
	request_free(&r);
}
END_TEST

START_TEST(rewrite_keeps_every_other_byte_as_written)
{
	static const char body[] = "{\"model\":\"a\",\"messages\":[ {\"role\": \"user\",  \"content\":\"x\\ny\"} ],"
				   "\"n\":1.50}";
	struct request r;
	struct request_changes c = { "b", 0, 0 };
	char *out;

	parse_ok(&r, REQUEST_CHAT, body);
	out = request_rewrite(&r, &c, NULL);
	ck_assert_str_eq(out, "{\"model\":\"b\",\"messages\":[ {\"role\": \"user\",  \"content\":\"x\\ny\"} ],"
			      "\"n\":1.50}");
	free(out);
	request_free(&r);
}
END_TEST

START_TEST(model_names_past_the_cap_are_refused)
{
	char body[600];
	struct request_error e;

	snprintf(body, sizeof body, "{\"model\":\"%0300d\",\"messages\":[{}]}", 7);
	e = parse_err(REQUEST_CHAT, body);
	ck_assert_str_eq(e.param, "model");
}
END_TEST

Suite *request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *good = tcase_create("good bodies");
	TCase *bad = tcase_create("refused bodies");
	TCase *rewrite = tcase_create("rewrite");

	tcase_add_test(good, chat_body_gives_model_stream_max_tokens_and_tools);
	tcase_add_test(good, bare_chat_body_takes_the_defaults);
	tcase_add_test(good, null_stream_and_null_max_tokens_count_as_absent);
	tcase_add_test(good, stream_false_is_not_a_stream);
	tcase_add_test(good, empty_tools_list_is_no_tools);
	tcase_add_test(good, max_completion_tokens_is_read_under_its_own_name);
	tcase_add_test(good, max_completion_tokens_wins_over_max_tokens);
	tcase_add_test(good, completions_need_no_messages);
	tcase_add_test(good, embeddings_with_input_need_no_messages);
	tcase_add_test(good, surrounding_white_space_is_accepted);
	tcase_add_test(good, kinds_have_their_upstream_paths);
	tcase_add_test(good, fields_are_read_in_place_without_a_tree);
	tcase_add_test(good, rewrite_keeps_every_other_byte_as_written);
	tcase_add_test(good, model_names_past_the_cap_are_refused);
	suite_add_tcase(s, good);

	tcase_add_test(bad, broken_json_is_refused_as_invalid_json);
	tcase_add_test(bad, body_that_is_not_an_object_is_refused);
	tcase_add_test(bad, missing_model_is_a_missing_required_parameter);
	tcase_add_test(bad, model_that_is_not_a_non_empty_string_is_refused);
	tcase_add_test(bad, chat_without_messages_is_refused);
	tcase_add_test(bad, chat_with_empty_messages_is_refused);
	tcase_add_test(bad, chat_with_messages_that_are_not_an_array_is_refused);
	tcase_add_test(bad, stream_that_is_not_a_boolean_is_refused);
	tcase_add_test(bad, max_tokens_that_is_not_a_positive_integer_is_refused);
	tcase_add_test(bad, embeddings_without_input_are_refused);
	suite_add_tcase(s, bad);

	tcase_add_test(rewrite, no_changes_leave_the_body_as_sent);
	tcase_add_test(rewrite, target_model_renames_the_model_and_keeps_the_rest);
	tcase_add_test(rewrite, target_model_equal_to_the_clients_is_no_change);
	tcase_add_test(rewrite, cap_lowers_a_larger_max_tokens);
	tcase_add_test(rewrite, cap_never_raises_a_smaller_max_tokens);
	tcase_add_test(rewrite, cap_adds_max_tokens_when_the_client_sent_none);
	tcase_add_test(rewrite, cap_uses_max_completion_tokens_when_the_client_did);
	tcase_add_test(rewrite, drop_tools_removes_tools_and_tool_choice);
	tcase_add_test(rewrite, drop_tools_without_tools_is_no_change);
	tcase_add_test(rewrite, drop_stream_removes_stream_and_stream_options);
	tcase_add_test(rewrite, minimal_level_applies_every_change_at_once);
	tcase_add_test(rewrite, rewrite_leaves_the_parsed_request_as_it_was);
	tcase_add_test(rewrite, a_nul_escape_the_client_sent_still_gives_a_tree);
	suite_add_tcase(s, rewrite);
	return s;
}

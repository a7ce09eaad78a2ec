/* test_anthropic.c — translation to and from Anthropic's Messages API on fixtures: requests, answers, errors and streams. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "suites.h"

/* ---- helpers ---- */

static const struct anthropic_options plain_options = {
	.model = "claude-3-5-haiku-latest", .max_tokens_cap = 0, .default_max_tokens = 4096,
};

/* Translates an OpenAI request given as text; returns the Anthropic body parsed (the caller frees it). */
static json_t *translate(const char *openai_text, const struct anthropic_options *o)
{
	json_t *openai = json_loads(openai_text, 0, NULL), *out_json;
	struct buf out;
	struct refusal no;

	ck_assert_ptr_nonnull(openai);
	buf_init(&out, 1 << 20);
	ck_assert_msg(anthropic_request(openai, o, &out, &no) == 0, "refused: %s", no.why);
	out_json = json_loadb(out.data, out.len, 0, NULL);
	ck_assert_ptr_nonnull(out_json);
	buf_free(&out);
	json_decref(openai);
	return out_json;
}

/* Returns anthropic_request's result for a request given as text, and the refusal in no. */
static int refuse_with(const char *openai_text, struct refusal *no)
{
	json_t *openai = json_loads(openai_text, 0, NULL);
	struct buf out;
	int rc;

	ck_assert_ptr_nonnull(openai);
	buf_init(&out, 1 << 20);
	rc = anthropic_request(openai, &plain_options, &out, no);
	if (rc != 0)
		ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
	json_decref(openai);
	return rc;
}

/* Returns anthropic_request's result for a request given as text, and its reason in err. */
static int refuse(const char *openai_text, char *err, size_t errlen)
{
	struct refusal no;
	int rc = refuse_with(openai_text, &no);
	size_t n = strnlen(no.why, errlen - 1);

	/* Cut to fit: the tests look for words near the start. */
	memcpy(err, no.why, n);
	err[n] = '\0';
	return rc;
}

/* Compares a JSON value with the expected value given as text. */
static void assert_json(const json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
	char *shown = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);

	ck_assert_ptr_nonnull(want);
	ck_assert_msg(json_equal(got, want), "got %s, want %s", shown ? shown : "(null)", want_text);
	free(shown);
	json_decref(want);
}

/* ---- requests ---- */

START_TEST(system_and_developer_messages_become_system)
{
	json_t *a = translate("{\"model\":\"gpt-4o\",\"messages\":["
			      "{\"role\":\"system\",\"content\":\"Be brief.\"},"
			      "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"No emojis.\"}]},"
			      "{\"role\":\"user\",\"content\":\"Hi\"}]}",
			      &plain_options);

	assert_json(json_object_get(a, "system"), "\"Be brief.\\n\\nNo emojis.\"");
	assert_json(json_object_get(a, "messages"), "[{\"role\":\"user\",\"content\":\"Hi\"}]");
	assert_json(json_object_get(a, "model"), "\"claude-3-5-haiku-latest\"");
	json_decref(a);
}
END_TEST

START_TEST(same_role_messages_merge_so_roles_alternate)
{
	json_t *a = translate("{\"model\":\"m\",\"messages\":["
			      "{\"role\":\"user\",\"content\":\"one\"},"
			      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"two\"}]},"
			      "{\"role\":\"assistant\",\"content\":\"three\"},"
			      "{\"role\":\"system\",\"content\":\"late system\"},"
			      "{\"role\":\"assistant\",\"content\":\"four\"},"
			      "{\"role\":\"user\",\"content\":\"five\"}]}",
			      &plain_options);

	assert_json(json_object_get(a, "messages"),
		    "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"one\"},{\"type\":\"text\",\"text\":\"two\"}]},"
		    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"three\"},{\"type\":\"text\",\"text\":\"four\"}]},"
		    "{\"role\":\"user\",\"content\":\"five\"}]");
	assert_json(json_object_get(a, "system"), "\"late system\"");
	json_decref(a);
}
END_TEST

START_TEST(a_conversation_opening_with_the_assistant_gets_a_user_turn_first)
{
	json_t *a = translate("{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":\"Hello, how can I help?\"},"
			      "{\"role\":\"user\",\"content\":\"Weather?\"}]}",
			      &plain_options);
	json_t *messages = json_object_get(a, "messages");

	ck_assert_int_eq(json_array_size(messages), 3);
	assert_json(json_object_get(json_array_get(messages, 0), "role"), "\"user\"");
	assert_json(json_object_get(json_array_get(messages, 1), "role"), "\"assistant\"");
	json_decref(a);
}
END_TEST

START_TEST(max_tokens_is_always_set)
{
	struct anthropic_options capped = plain_options;
	json_t *a;

	capped.max_tokens_cap = 256;
	a = translate("{\"model\":\"m\",\"max_tokens\":1000,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &capped);
	assert_json(json_object_get(a, "max_tokens"), "256");
	json_decref(a);

	a = translate("{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &capped);
	assert_json(json_object_get(a, "max_tokens"), "100");
	json_decref(a);

	a = translate("{\"model\":\"m\",\"max_completion_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
		      &plain_options);
	assert_json(json_object_get(a, "max_tokens"), "50");
	ck_assert_ptr_null(json_object_get(a, "max_completion_tokens"));
	json_decref(a);

	a = translate("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &capped);
	assert_json(json_object_get(a, "max_tokens"), "256");
	json_decref(a);

	a = translate("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &plain_options);
	assert_json(json_object_get(a, "max_tokens"), "4096");
	json_decref(a);
}
END_TEST

START_TEST(sampling_parameters_stop_and_user_carry_over)
{
	json_t *a = translate("{\"model\":\"m\",\"temperature\":1.7,\"top_p\":0.9,\"stop\":\"END\",\"user\":\"u-1\","
			      "\"n\":1,\"seed\":7,\"logprobs\":false,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
			      &plain_options);

	assert_json(json_object_get(a, "temperature"), "1.0");
	assert_json(json_object_get(a, "top_p"), "0.9");
	assert_json(json_object_get(a, "stop_sequences"), "[\"END\"]");
	assert_json(json_object_get(a, "metadata"), "{\"user_id\":\"u-1\"}");
	ck_assert_ptr_null(json_object_get(a, "n"));
	ck_assert_ptr_null(json_object_get(a, "seed"));
	ck_assert_ptr_null(json_object_get(a, "logprobs"));
	ck_assert_ptr_null(json_object_get(a, "stop"));
	json_decref(a);

	a = translate("{\"model\":\"m\",\"temperature\":-1,\"stop\":[\"a\",\"b\"],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
		      &plain_options);
	ck_assert(json_number_value(json_object_get(a, "temperature")) == 0.0);
	assert_json(json_object_get(a, "stop_sequences"), "[\"a\",\"b\"]");
	json_decref(a);
}
END_TEST

START_TEST(streaming_is_asked_for_when_the_option_says_so)
{
	struct anthropic_options streamed = plain_options;
	json_t *a;

	streamed.stream = true;
	a = translate("{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &streamed);
	assert_json(json_object_get(a, "stream"), "true");
	json_decref(a);

	a = translate("{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &plain_options);
	ck_assert(!json_is_true(json_object_get(a, "stream")));
	json_decref(a);
}
END_TEST

START_TEST(image_parts_become_image_blocks)
{
	json_t *a = translate("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
			      "{\"type\":\"text\",\"text\":\"What is this?\"},"
			      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}},"
			      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.jpg\"}}]}]}",
			      &plain_options);

	assert_json(json_object_get(json_array_get(json_object_get(a, "messages"), 0), "content"),
		    "[{\"type\":\"text\",\"text\":\"What is this?\"},"
		    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
		    "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://example.com/cat.jpg\"}}]");
	json_decref(a);
}
END_TEST

START_TEST(a_request_anthropic_cannot_express_is_refused_with_a_reason)
{
	char err[200] = "";

	ck_assert_int_eq(refuse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
				"{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}}]}]}",
				err, sizeof err), -1);
	ck_assert_msg(strstr(err, "input_audio") != NULL, "reason: %s", err);

	err[0] = '\0';
	ck_assert_int_eq(refuse("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"only a system\"}]}",
				err, sizeof err), -1);
	ck_assert_msg(err[0] != '\0', "no reason given");

	err[0] = '\0';
	ck_assert_int_eq(refuse("{\"model\":\"m\",\"messages\":[\"not an object\"]}", err, sizeof err), -1);
	ck_assert_msg(err[0] != '\0', "no reason given");
}
END_TEST

START_TEST(n_above_one_is_refused_naming_n_and_n_of_one_is_sent)
{
	struct refusal no;
	json_t *a;

	ck_assert_int_eq(refuse_with("{\"model\":\"m\",\"n\":3,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
				     &no), -1);
	ck_assert_str_eq(no.param, "n");
	ck_assert_msg(strstr(no.why, "n is 3") != NULL, "reason: %s", no.why);
	ck_assert_int_eq(no.why[strlen(no.why) - 1], '.');
	/* n: 1 asks for what Anthropic gives anyway, and is not sent. */
	a = translate("{\"model\":\"m\",\"n\":1,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &plain_options);
	ck_assert_ptr_null(json_object_get(a, "n"));
	json_decref(a);
}
END_TEST

START_TEST(a_refusal_names_the_parameter_at_fault_in_a_whole_sentence)
{
	struct refusal no;

	ck_assert_int_eq(refuse_with("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},"
				     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"And?\"},"
				     "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}}]}]}",
				     &no), -1);
	ck_assert_str_eq(no.param, "messages[1].content[1].type");
	ck_assert_msg(strstr(no.why, "input_audio") != NULL, "reason: %s", no.why);
	ck_assert_int_eq(no.why[strlen(no.why) - 1], '.');

	ck_assert_int_eq(refuse_with("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},7]}", &no), -1);
	ck_assert_str_eq(no.param, "messages[1]");

	ck_assert_int_eq(refuse_with("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"alone\"}]}", &no),
			 -1);
	ck_assert_str_eq(no.param, "messages");

	ck_assert_int_eq(refuse_with("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
				     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"x\"}}",
				     &no), -1);
	ck_assert_str_eq(no.param, "tool_choice");
}
END_TEST

START_TEST(a_refusal_about_no_one_parameter_names_none)
{
	json_t *openai = json_loads("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
				    "\"text\":\"a long enough question\"}]}]}", 0, NULL);
	struct buf out;
	struct refusal no;

	/* The last part blamed must not stick to a refusal that is about the whole body. */
	buf_init(&out, 20);
	ck_assert_int_eq(anthropic_request(openai, &plain_options, &out, &no), -1);
	ck_assert_str_eq(no.param, "");
	ck_assert_int_eq(no.why[strlen(no.why) - 1], '.');
	buf_free(&out);
	json_decref(openai);
}
END_TEST

START_TEST(a_full_output_buffer_is_refused_and_left_as_it_was)
{
	json_t *openai = json_loads("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a long enough question\"}]}",
				    0, NULL);
	struct buf out;
	struct refusal no;

	buf_init(&out, 20);
	ck_assert_int_eq(anthropic_request(openai, &plain_options, &out, &no), -1);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
	json_decref(openai);
}
END_TEST

START_TEST(tools_and_tool_choice_become_anthropic_tools)
{
	json_t *a = translate("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}],"
			      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"description\":\"Current weather\","
			      "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
			      "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}],"
			      "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"weather\"}},"
			      "\"parallel_tool_calls\":false}",
			      &plain_options);

	assert_json(json_object_get(a, "tools"),
		    "[{\"name\":\"weather\",\"description\":\"Current weather\","
		    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}},"
		    "{\"name\":\"now\",\"input_schema\":{\"type\":\"object\"}}]");
	assert_json(json_object_get(a, "tool_choice"),
		    "{\"type\":\"tool\",\"name\":\"weather\",\"disable_parallel_tool_use\":true}");
	json_decref(a);
}
END_TEST

START_TEST(tool_choice_words_map_to_anthropic_types)
{
	static const char *const cases[][2] = {
		{ "\"auto\"", "{\"type\":\"auto\"}" },
		{ "\"none\"", "{\"type\":\"none\"}" },
		{ "\"required\"", "{\"type\":\"any\"}" },
	};
	char text[512];
	json_t *a;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text,
			 "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
			 "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":%s}",
			 cases[i][0]);
		a = translate(text, &plain_options);
		assert_json(json_object_get(a, "tool_choice"), cases[i][1]);
		json_decref(a);
	}
	a = translate("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"parallel_tool_calls\":false}",
		      &plain_options);
	assert_json(json_object_get(a, "tool_choice"), "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}");
	json_decref(a);
}
END_TEST

START_TEST(dropping_tools_leaves_them_out)
{
	struct anthropic_options reduced = plain_options;
	json_t *a;

	reduced.drop_tools = true;
	a = translate("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"auto\"}",
		      &reduced);
	ck_assert_ptr_null(json_object_get(a, "tools"));
	ck_assert_ptr_null(json_object_get(a, "tool_choice"));
	json_decref(a);
}
END_TEST

START_TEST(tool_calls_and_tool_messages_become_tool_use_and_tool_result)
{
	json_t *a = translate("{\"model\":\"m\",\"messages\":["
			      "{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
			      "{\"role\":\"assistant\",\"content\":\"Let me check.\",\"tool_calls\":["
			      "{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
			      "{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"not json\"}}]},"
			      "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"18C, sunny\"},"
			      "{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":\"21C\"}]}",
			      &plain_options);

	assert_json(json_object_get(a, "messages"),
		    "[{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
		    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Let me check.\"},"
		    "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"weather\",\"input\":{\"city\":\"Paris\"}},"
		    "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"weather\",\"input\":{}}]},"
		    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"18C, sunny\"},"
		    "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":\"21C\"}]}]");
	json_decref(a);
}
END_TEST

/* ---- answers ---- */

static json_t *answer(const char *anthropic_text)
{
	struct buf out;
	json_t *openai;

	buf_init(&out, 1 << 20);
	ck_assert_int_eq(anthropic_response(anthropic_text, strlen(anthropic_text), 1700000000, &out), 0);
	openai = json_loadb(out.data, out.len, 0, NULL);
	ck_assert_ptr_nonnull(openai);
	buf_free(&out);
	return openai;
}

START_TEST(a_text_answer_becomes_a_chat_completion)
{
	json_t *o = answer("{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-haiku-latest\","
			   "\"content\":[{\"type\":\"text\",\"text\":\"Hello \"},{\"type\":\"text\",\"text\":\"there.\"}],"
			   "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
			   "\"usage\":{\"input_tokens\":12,\"output_tokens\":4}}");

	assert_json(o, "{\"id\":\"chatcmpl-msg_01\",\"object\":\"chat.completion\",\"created\":1700000000,"
		       "\"model\":\"claude-3-5-haiku-latest\",\"choices\":[{\"index\":0,"
		       "\"message\":{\"role\":\"assistant\",\"content\":\"Hello there.\",\"refusal\":null},\"finish_reason\":\"stop\","
		       "\"logprobs\":null}],"
		       "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4,\"total_tokens\":16}}");
	json_decref(o);
}
END_TEST

START_TEST(a_tool_use_answer_becomes_tool_calls)
{
	json_t *o = answer("{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\","
			   "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":\"weather\",\"input\":{\"city\":\"Paris\"}}],"
			   "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":3,\"output_tokens\":5,"
			   "\"cache_read_input_tokens\":10,\"cache_creation_input_tokens\":2}}");
	json_t *choice = json_array_get(json_object_get(o, "choices"), 0);

	assert_json(json_object_get(choice, "message"),
		    "{\"role\":\"assistant\",\"content\":null,\"refusal\":null,\"tool_calls\":[{\"id\":\"toolu_9\",\"type\":\"function\","
		    "\"function\":{\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}");
	assert_json(json_object_get(choice, "finish_reason"), "\"tool_calls\"");
	assert_json(json_object_get(o, "usage"), "{\"prompt_tokens\":15,\"completion_tokens\":5,\"total_tokens\":20,"
		    "\"prompt_tokens_details\":{\"cached_tokens\":10}}");
	json_decref(o);
}
END_TEST

START_TEST(stop_reasons_map_to_finish_reasons)
{
	ck_assert_str_eq(anthropic_finish_reason("end_turn"), "stop");
	ck_assert_str_eq(anthropic_finish_reason("stop_sequence"), "stop");
	ck_assert_str_eq(anthropic_finish_reason("max_tokens"), "length");
	ck_assert_str_eq(anthropic_finish_reason("tool_use"), "tool_calls");
	ck_assert_str_eq(anthropic_finish_reason("refusal"), "content_filter");
	ck_assert_str_eq(anthropic_finish_reason("something_new"), "stop");
	ck_assert_str_eq(anthropic_finish_reason(NULL), "stop");
}
END_TEST

START_TEST(an_answer_that_is_not_a_message_is_refused)
{
	struct buf out;
	static const char *const bad[] = { "not json", "[]", "{\"type\":\"error\",\"error\":{}}", "{\"id\":\"m\",\"content\":7}" };

	buf_init(&out, 1 << 16);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(anthropic_response(bad[i], strlen(bad[i]), 1, &out) == -1, "accepted %s", bad[i]);
		ck_assert_uint_eq(out.len, 0);
	}
	buf_free(&out);
}
END_TEST

/* ---- errors ---- */

static json_t *error_for(unsigned status, const char *body)
{
	struct buf out;
	json_t *e;

	buf_init(&out, 1 << 16);
	ck_assert_int_eq(anthropic_error(status, body, strlen(body), &out), 0);
	e = json_loadb(out.data, out.len, 0, NULL);
	ck_assert_ptr_nonnull(e);
	buf_free(&out);
	return e;
}

START_TEST(anthropic_errors_become_openai_errors)
{
	static const struct {
		unsigned status;
		const char *anthropic_type, *openai_type;
	} cases[] = {
		{ 400, "invalid_request_error", "invalid_request_error" },
		{ 401, "authentication_error", "authentication_error" },
		{ 403, "permission_error", "permission_error" },
		{ 429, "rate_limit_error", "rate_limit_error" },
		{ 500, "api_error", "server_error" },
		{ 529, "overloaded_error", "server_error" },
	};
	char body[256];
	json_t *e;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(body, sizeof body, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"words %zu\"}}",
			 cases[i].anthropic_type, i);
		e = error_for(cases[i].status, body);
		snprintf(body, sizeof body, "{\"error\":{\"message\":\"words %zu\",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}",
			 i, cases[i].openai_type, cases[i].anthropic_type);
		assert_json(e, body);
		json_decref(e);
	}
}
END_TEST

START_TEST(an_error_body_of_another_shape_still_gives_an_openai_error)
{
	json_t *e = error_for(502, "<html>Bad Gateway</html>");
	json_t *message = json_object_get(json_object_get(e, "error"), "message");

	ck_assert(json_is_string(message));
	ck_assert_msg(strstr(json_string_value(message), "502") != NULL, "message: %s", json_string_value(message));
	assert_json(json_object_get(json_object_get(e, "error"), "type"), "\"server_error\"");
	json_decref(e);
}
END_TEST

/* ---- streams ---- */

struct chunks {
	json_t *list;
	int fail_after;   /* emit fails once this many were taken; 0: never */
};

static int take_chunk(void *arg, const char *chunk, size_t len)
{
	struct chunks *c = arg;
	json_t *v;

	if (c->fail_after != 0 && (int)json_array_size(c->list) >= c->fail_after)
		return -1;
	v = json_loadb(chunk, len, 0, NULL);
	ck_assert_msg(v != NULL, "a chunk that is not JSON: %.*s", (int)len, chunk);
	json_array_append_new(c->list, v);
	return 0;
}

static enum anthropic_event feed(struct anthropic_stream *s, struct chunks *c, const char *name, const char *data)
{
	return anthropic_stream_event(s, name, name ? strlen(name) : 0, data, strlen(data), take_chunk, c);
}

static json_t *delta_of(const struct chunks *c, size_t i)
{
	return json_object_get(json_array_get(json_object_get(json_array_get(c->list, i), "choices"), 0), "delta");
}

static const char message_start[] =
	"{\"type\":\"message_start\",\"message\":{\"id\":\"msg_s\",\"type\":\"message\",\"role\":\"assistant\","
	"\"model\":\"claude-3-5-haiku-latest\",\"content\":[],\"stop_reason\":null,"
	"\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}";

START_TEST(a_text_stream_becomes_chunks_then_done)
{
	struct anthropic_stream s;
	struct chunks c = { .list = json_array() };
	json_t *first;

	anthropic_stream_init(&s, 1700000000, true);
	ck_assert_int_eq(feed(&s, &c, "message_start", message_start), ANTHROPIC_EVENT_NONE);
	ck_assert_int_eq(feed(&s, &c, "content_block_start",
			      "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"),
			 ANTHROPIC_EVENT_NONE);
	ck_assert_int_eq(feed(&s, &c, "ping", "{\"type\":\"ping\"}"), ANTHROPIC_EVENT_NONE);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}"),
			 ANTHROPIC_EVENT_CONTENT);
	/* Without an event line the data's own type names it. */
	ck_assert_int_eq(feed(&s, &c, NULL,
			      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}"),
			 ANTHROPIC_EVENT_CONTENT);
	ck_assert_int_eq(feed(&s, &c, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"),
			 ANTHROPIC_EVENT_NONE);
	ck_assert_int_eq(feed(&s, &c, "message_delta",
			      "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
			      "\"usage\":{\"output_tokens\":2}}"),
			 ANTHROPIC_EVENT_CONTENT);
	ck_assert_int_eq(feed(&s, &c, "message_stop", "{\"type\":\"message_stop\"}"), ANTHROPIC_EVENT_DONE);

	ck_assert_int_eq(json_array_size(c.list), 5);
	first = json_array_get(c.list, 0);
	assert_json(json_object_get(first, "id"), "\"chatcmpl-msg_s\"");
	assert_json(json_object_get(first, "object"), "\"chat.completion.chunk\"");
	assert_json(json_object_get(first, "created"), "1700000000");
	assert_json(json_object_get(first, "model"), "\"claude-3-5-haiku-latest\"");
	assert_json(delta_of(&c, 0), "{\"role\":\"assistant\",\"content\":\"\"}");
	assert_json(delta_of(&c, 1), "{\"content\":\"Hel\"}");
	assert_json(delta_of(&c, 2), "{\"content\":\"lo\"}");
	assert_json(delta_of(&c, 3), "{}");
	assert_json(json_object_get(json_array_get(json_object_get(json_array_get(c.list, 3), "choices"), 0), "finish_reason"),
		    "\"stop\"");
	assert_json(json_object_get(json_array_get(c.list, 4), "choices"), "[]");
	assert_json(json_object_get(json_array_get(c.list, 4), "usage"),
		    "{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}");
	json_decref(c.list);
}
END_TEST

START_TEST(a_streamed_tool_call_arrives_in_pieces)
{
	struct anthropic_stream s;
	struct chunks c = { .list = json_array() };
	char arguments[128] = "";
	json_t *call;

	anthropic_stream_init(&s, 1, false);
	feed(&s, &c, "message_start", message_start);
	feed(&s, &c, "content_block_start",
	     "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
	feed(&s, &c, "content_block_delta",
	     "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check.\"}}");
	feed(&s, &c, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
	ck_assert_int_eq(feed(&s, &c, "content_block_start",
			      "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\","
			      "\"id\":\"toolu_7\",\"name\":\"weather\",\"input\":{}}}"),
			 ANTHROPIC_EVENT_CONTENT);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"ci\"}}"),
			 ANTHROPIC_EVENT_CONTENT);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ty\\\": \\\"Paris\\\"}\"}}"),
			 ANTHROPIC_EVENT_CONTENT);
	feed(&s, &c, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}");
	feed(&s, &c, "message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":20}}");
	ck_assert_int_eq(feed(&s, &c, "message_stop", "{\"type\":\"message_stop\"}"), ANTHROPIC_EVENT_DONE);

	/* role, text, tool call opening, two argument pieces, finish; no usage chunk unless asked. */
	ck_assert_int_eq(json_array_size(c.list), 6);
	assert_json(delta_of(&c, 2), "{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_7\",\"type\":\"function\","
				     "\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]}");
	for (size_t i = 3; i <= 4; i++) {
		call = json_array_get(json_object_get(delta_of(&c, i), "tool_calls"), 0);
		assert_json(json_object_get(call, "index"), "0");
		strncat(arguments, json_string_value(json_object_get(json_object_get(call, "function"), "arguments")),
			sizeof arguments - strlen(arguments) - 1);
	}
	ck_assert_str_eq(arguments, "{\"city\": \"Paris\"}");
	assert_json(json_object_get(json_array_get(json_object_get(json_array_get(c.list, 5), "choices"), 0), "finish_reason"),
		    "\"tool_calls\"");
	json_decref(c.list);
}
END_TEST

START_TEST(an_error_event_ends_the_stream_with_its_words)
{
	struct anthropic_stream s;
	struct chunks c = { .list = json_array() };

	anthropic_stream_init(&s, 1, false);
	feed(&s, &c, "message_start", message_start);
	ck_assert_int_eq(feed(&s, &c, "error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"),
			 ANTHROPIC_EVENT_ERROR);
	ck_assert_str_eq(s.error, "overloaded_error: Overloaded");
	json_decref(c.list);
}
END_TEST

START_TEST(an_event_that_cannot_be_understood_is_an_error)
{
	struct anthropic_stream s;
	struct chunks c = { .list = json_array() };

	anthropic_stream_init(&s, 1, false);
	ck_assert_int_eq(feed(&s, &c, "message_start", "{not json"), ANTHROPIC_EVENT_ERROR);
	ck_assert(s.error[0] != '\0');
	json_decref(c.list);

	c.list = json_array();
	c.fail_after = 1;
	anthropic_stream_init(&s, 1, false);
	feed(&s, &c, "message_start", message_start);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}"),
			 ANTHROPIC_EVENT_ERROR);
	json_decref(c.list);
}
END_TEST

START_TEST(unknown_event_types_are_ignored)
{
	struct anthropic_stream s;
	struct chunks c = { .list = json_array() };

	anthropic_stream_init(&s, 1, false);
	ck_assert_int_eq(feed(&s, &c, "a_future_event", "{\"type\":\"a_future_event\"}"), ANTHROPIC_EVENT_NONE);
	ck_assert_int_eq(json_array_size(c.list), 0);
	json_decref(c.list);
}
END_TEST

/* ---- structured output, thinking, cache tokens, parameters without an Anthropic form ---- */

#define WEATHER_SCHEMA "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}"
#define ASK "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
#define ANSWER_TOOL "\"" ANTHROPIC_FORMAT_TOOL "\""
#define CLIENT_TOOLS "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]"

START_TEST(a_json_schema_becomes_a_forced_answer_tool)
{
	json_t *a = translate("{\"model\":\"m\"," ASK ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
			      "{\"name\":\"weather\",\"strict\":true,\"schema\":" WEATHER_SCHEMA "}}}", &plain_options);
	json_t *tool = json_array_get(json_object_get(a, "tools"), 0);
	const char *description = json_string_value(json_object_get(tool, "description"));

	ck_assert_uint_eq(json_array_size(json_object_get(a, "tools")), 1);
	assert_json(json_object_get(tool, "name"), ANSWER_TOOL);
	assert_json(json_object_get(tool, "input_schema"), WEATHER_SCHEMA);
	ck_assert_msg(description != NULL && strstr(description, "\"weather\"") != NULL, "description: %s", description);
	assert_json(json_object_get(a, "tool_choice"), "{\"type\":\"tool\",\"name\":" ANSWER_TOOL "}");
	ck_assert_ptr_null(json_object_get(a, "response_format"));
	json_decref(a);

	/* json_object: any object. */
	a = translate("{\"model\":\"m\"," ASK ",\"response_format\":{\"type\":\"json_object\"}}", &plain_options);
	assert_json(json_object_get(json_array_get(json_object_get(a, "tools"), 0), "input_schema"), "{\"type\":\"object\"}");
	assert_json(json_object_get(a, "tool_choice"), "{\"type\":\"tool\",\"name\":" ANSWER_TOOL "}");
	json_decref(a);

	/* text is what Anthropic answers anyway. */
	a = translate("{\"model\":\"m\"," ASK ",\"response_format\":{\"type\":\"text\"}}", &plain_options);
	ck_assert_ptr_null(json_object_get(a, "tools"));
	ck_assert_ptr_null(json_object_get(a, "tool_choice"));
	json_decref(a);
}
END_TEST

START_TEST(a_json_schema_beside_client_tools_lets_the_model_call_any)
{
	static const struct anthropic_options dropping = {
		.model = "m", .default_max_tokens = 4096, .drop_tools = true,
	};
	json_t *a = translate("{\"model\":\"m\"," ASK "," CLIENT_TOOLS ",\"response_format\":{\"type\":\"json_object\"}}",
			      &plain_options);

	ck_assert_uint_eq(json_array_size(json_object_get(a, "tools")), 2);
	assert_json(json_object_get(json_array_get(json_object_get(a, "tools"), 0), "name"), "\"get_weather\"");
	assert_json(json_object_get(json_array_get(json_object_get(a, "tools"), 1), "name"), ANSWER_TOOL);
	assert_json(json_object_get(a, "tool_choice"), "{\"type\":\"any\"}");
	json_decref(a);

	/* tool_choice none: the client's tools may not be called, the answer tool must. */
	a = translate("{\"model\":\"m\"," ASK "," CLIENT_TOOLS ",\"tool_choice\":\"none\",\"response_format\":{\"type\":\"json_object\"}}",
		      &plain_options);
	assert_json(json_object_get(a, "tool_choice"), "{\"type\":\"tool\",\"name\":" ANSWER_TOOL "}");
	json_decref(a);

	/* A client's own function still wins. */
	a = translate("{\"model\":\"m\"," ASK "," CLIENT_TOOLS ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},"
		      "\"response_format\":{\"type\":\"json_object\"}}", &plain_options);
	assert_json(json_object_get(a, "tool_choice"), "{\"type\":\"tool\",\"name\":\"get_weather\"}");
	json_decref(a);

	/* Tools dropped by degradation: the answer tool alone, forced. */
	a = translate("{\"model\":\"m\"," ASK "," CLIENT_TOOLS ",\"response_format\":{\"type\":\"json_object\"}}", &dropping);
	ck_assert_uint_eq(json_array_size(json_object_get(a, "tools")), 1);
	assert_json(json_object_get(json_array_get(json_object_get(a, "tools"), 0), "name"), ANSWER_TOOL);
	assert_json(json_object_get(a, "tool_choice"), "{\"type\":\"tool\",\"name\":" ANSWER_TOOL "}");
	json_decref(a);
}
END_TEST

START_TEST(a_response_format_anthropic_cannot_answer_is_refused)
{
	char err[256];

	ck_assert_int_eq(refuse("{\"model\":\"m\"," ASK ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
				"{\"name\":\"list\",\"schema\":{\"type\":\"array\"}}}}", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "response_format.json_schema.schema") != NULL, "err: %s", err);
	ck_assert_int_eq(refuse("{\"model\":\"m\"," ASK ",\"response_format\":{\"type\":\"json_schema\"}}", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "json_schema") != NULL, "err: %s", err);
	ck_assert_int_eq(refuse("{\"model\":\"m\"," ASK ",\"response_format\":{\"type\":\"yaml\"}}", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "response_format") != NULL, "err: %s", err);
	/* A client tool may not take the answer tool's name: its calls would come back as content. */
	ck_assert_int_eq(refuse("{\"model\":\"m\"," ASK ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
				ANSWER_TOOL "}}]}", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "tools[0]") != NULL, "err: %s", err);
}
END_TEST

START_TEST(parameters_without_an_anthropic_form_are_refused_by_name)
{
	static const struct {
		const char *field, *param;
	} refused[] = {
		{ "\"logprobs\":true", "logprobs" },
		{ "\"top_logprobs\":3", "logprobs" },
		{ "\"presence_penalty\":0.5", "presence_penalty" },
		{ "\"frequency_penalty\":-1", "frequency_penalty" },
	};
	char text[256], err[256];
	json_t *a;

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		snprintf(text, sizeof text, "{\"model\":\"m\"," ASK ",%s}", refused[i].field);
		ck_assert_msg(refuse(text, err, sizeof err) == -1, "accepted %s", refused[i].field);
		ck_assert_msg(strstr(err, refused[i].param) != NULL, "%s: %s", refused[i].field, err);
		/* A whole sentence, for the attempts list and the 400. */
		ck_assert_msg(err[strlen(err) - 1] == '.', "not a sentence: %s", err);
	}
	/* Their "off" values change nothing, and seed is best effort at OpenAI too: left out. */
	a = translate("{\"model\":\"m\"," ASK ",\"logprobs\":false,\"top_logprobs\":0,\"presence_penalty\":0,"
		      "\"frequency_penalty\":0.0,\"seed\":42}", &plain_options);
	ck_assert_ptr_null(json_object_get(a, "presence_penalty"));
	ck_assert_ptr_null(json_object_get(a, "frequency_penalty"));
	ck_assert_ptr_null(json_object_get(a, "seed"));
	json_decref(a);
}
END_TEST

START_TEST(the_answer_tool_call_comes_back_as_content)
{
	json_t *o = answer("{\"id\":\"msg_3\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\","
			   "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":" ANSWER_TOOL ","
			   "\"input\":{\"city\":\"Paris\",\"temperature\":21}}],"
			   "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":3,\"output_tokens\":5}}");
	json_t *choice = json_array_get(json_object_get(o, "choices"), 0);

	assert_json(json_object_get(choice, "message"),
		    "{\"role\":\"assistant\",\"content\":\"{\\\"city\\\":\\\"Paris\\\",\\\"temperature\\\":21}\",\"refusal\":null}");
	assert_json(json_object_get(choice, "finish_reason"), "\"stop\"");
	json_decref(o);

	/* Beside a call of a client tool, that call is the answer for now. */
	o = answer("{\"id\":\"msg_4\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\","
		   "\"content\":[{\"type\":\"text\",\"text\":\"Let me check.\"},"
		   "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_weather\",\"input\":{}},"
		   "{\"type\":\"tool_use\",\"id\":\"toolu_3\",\"name\":" ANSWER_TOOL ",\"input\":{\"a\":1}}],"
		   "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":3,\"output_tokens\":5}}");
	choice = json_array_get(json_object_get(o, "choices"), 0);
	assert_json(json_object_get(json_object_get(choice, "message"), "content"), "\"{\\\"a\\\":1}\"");
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(choice, "message"), "tool_calls")), 1);
	assert_json(json_object_get(choice, "finish_reason"), "\"tool_calls\"");
	json_decref(o);
}
END_TEST

START_TEST(thinking_and_cache_reads_come_back_in_openai_terms)
{
	json_t *o = answer("{\"id\":\"msg_5\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\","
			   "\"content\":[{\"type\":\"thinking\",\"thinking\":\"First, \",\"signature\":\"sig\"},"
			   "{\"type\":\"redacted_thinking\",\"data\":\"xx\"},"
			   "{\"type\":\"thinking\",\"thinking\":\"the forecast.\",\"signature\":\"sig\"},"
			   "{\"type\":\"text\",\"text\":\"Sunny.\"}],\"stop_reason\":\"end_turn\","
			   "\"usage\":{\"input_tokens\":2,\"output_tokens\":5,\"cache_read_input_tokens\":7,"
			   "\"cache_creation_input_tokens\":3}}");
	json_t *message = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message");

	assert_json(message, "{\"role\":\"assistant\",\"content\":\"Sunny.\",\"refusal\":null,"
			     "\"reasoning_content\":\"First, the forecast.\"}");
	assert_json(json_object_get(o, "usage"), "{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17,"
						 "\"prompt_tokens_details\":{\"cached_tokens\":7}}");
	json_decref(o);
}
END_TEST

START_TEST(a_streamed_answer_tool_call_streams_as_content)
{
	struct anthropic_stream s;
	struct chunks c = { .list = json_array() };

	anthropic_stream_init(&s, 1, false);
	feed(&s, &c, "message_start", message_start);
	/* Nothing for the client yet: the content comes with the input. */
	ck_assert_int_eq(feed(&s, &c, "content_block_start",
			      "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\","
			      "\"id\":\"toolu_1\",\"name\":" ANSWER_TOOL ",\"input\":{}}}"),
			 ANTHROPIC_EVENT_NONE);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}"),
			 ANTHROPIC_EVENT_NONE);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}"),
			 ANTHROPIC_EVENT_CONTENT);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}"),
			 ANTHROPIC_EVENT_CONTENT);
	feed(&s, &c, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
	feed(&s, &c, "message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":4}}");

	/* role, two content pieces, finish */
	ck_assert_int_eq(json_array_size(c.list), 4);
	assert_json(delta_of(&c, 1), "{\"content\":\"{\\\"a\\\":\"}");
	assert_json(delta_of(&c, 2), "{\"content\":\"1}\"}");
	assert_json(json_object_get(json_array_get(json_object_get(json_array_get(c.list, 3), "choices"), 0), "finish_reason"),
		    "\"stop\"");
	json_decref(c.list);
}
END_TEST

START_TEST(streamed_thinking_is_reasoning_content_and_cache_reads_are_counted)
{
	struct anthropic_stream s;
	struct chunks c = { .list = json_array() };

	anthropic_stream_init(&s, 1, true);
	feed(&s, &c, "message_start",
	     "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_t\",\"model\":\"claude\",\"content\":[],"
	     "\"usage\":{\"input_tokens\":2,\"output_tokens\":1,\"cache_read_input_tokens\":7,\"cache_creation_input_tokens\":3}}}");
	ck_assert_int_eq(feed(&s, &c, "content_block_start",
			      "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}"),
			 ANTHROPIC_EVENT_NONE);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hmm.\"}}"),
			 ANTHROPIC_EVENT_CONTENT);
	ck_assert_int_eq(feed(&s, &c, "content_block_delta",
			      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"abc\"}}"),
			 ANTHROPIC_EVENT_NONE);
	feed(&s, &c, "message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}");

	/* role, reasoning, finish, usage */
	ck_assert_int_eq(json_array_size(c.list), 4);
	assert_json(delta_of(&c, 1), "{\"reasoning_content\":\"Hmm.\"}");
	assert_json(json_object_get(json_array_get(c.list, 3), "usage"),
		    "{\"prompt_tokens\":12,\"completion_tokens\":4,\"total_tokens\":16,\"prompt_tokens_details\":{\"cached_tokens\":7}}");
	json_decref(c.list);
}
END_TEST

START_TEST(a_stream_of_a_hundred_tool_calls_is_followed_to_the_end)
{
	struct anthropic_stream s;
	struct chunks c = { .list = json_array() };
	char event[256];
	int i;

	anthropic_stream_init(&s, 1, false);
	feed(&s, &c, "message_start", message_start);
	for (i = 0; i < 100; i++) {
		snprintf(event, sizeof event, "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":\"tool_use\","
			 "\"id\":\"toolu_%d\",\"name\":\"f\",\"input\":{}}}", i, i);
		ck_assert_int_eq(feed(&s, &c, "content_block_start", event), ANTHROPIC_EVENT_CONTENT);
		snprintf(event, sizeof event, "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":"
			 "{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}", i);
		ck_assert_msg(feed(&s, &c, "content_block_delta", event) == ANTHROPIC_EVENT_CONTENT, "block %d: %s", i, s.error);
		snprintf(event, sizeof event, "{\"type\":\"content_block_stop\",\"index\":%d}", i);
		feed(&s, &c, "content_block_stop", event);
	}
	/* role, then an opening and a piece per call */
	ck_assert_int_eq(json_array_size(c.list), 201);
	assert_json(json_object_get(json_array_get(json_object_get(delta_of(&c, 200), "tool_calls"), 0), "index"), "99");
	/* A piece for a block other than the open one is not followed. */
	ck_assert_int_eq(feed(&s, &c, "content_block_delta", "{\"type\":\"content_block_delta\",\"index\":3,\"delta\":"
			      "{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}"), ANTHROPIC_EVENT_ERROR);
	json_decref(c.list);
}
END_TEST

Suite *anthropic_suite(void)
{
	Suite *s = suite_create("anthropic");
	TCase *requests = tcase_create("requests"), *answers = tcase_create("answers");
	TCase *errors = tcase_create("errors"), *streams = tcase_create("streams");
	TCase *formats = tcase_create("formats");

	tcase_add_test(requests, system_and_developer_messages_become_system);
	tcase_add_test(requests, same_role_messages_merge_so_roles_alternate);
	tcase_add_test(requests, a_conversation_opening_with_the_assistant_gets_a_user_turn_first);
	tcase_add_test(requests, max_tokens_is_always_set);
	tcase_add_test(requests, sampling_parameters_stop_and_user_carry_over);
	tcase_add_test(requests, streaming_is_asked_for_when_the_option_says_so);
	tcase_add_test(requests, image_parts_become_image_blocks);
	tcase_add_test(requests, a_request_anthropic_cannot_express_is_refused_with_a_reason);
	tcase_add_test(requests, a_full_output_buffer_is_refused_and_left_as_it_was);
	tcase_add_test(requests, n_above_one_is_refused_naming_n_and_n_of_one_is_sent);
	tcase_add_test(requests, a_refusal_names_the_parameter_at_fault_in_a_whole_sentence);
	tcase_add_test(requests, a_refusal_about_no_one_parameter_names_none);
	tcase_add_test(requests, tools_and_tool_choice_become_anthropic_tools);
	tcase_add_test(requests, tool_choice_words_map_to_anthropic_types);
	tcase_add_test(requests, dropping_tools_leaves_them_out);
	tcase_add_test(requests, tool_calls_and_tool_messages_become_tool_use_and_tool_result);
	suite_add_tcase(s, requests);

	tcase_add_test(answers, a_text_answer_becomes_a_chat_completion);
	tcase_add_test(answers, a_tool_use_answer_becomes_tool_calls);
	tcase_add_test(answers, stop_reasons_map_to_finish_reasons);
	tcase_add_test(answers, an_answer_that_is_not_a_message_is_refused);
	suite_add_tcase(s, answers);

	tcase_add_test(errors, anthropic_errors_become_openai_errors);
	tcase_add_test(errors, an_error_body_of_another_shape_still_gives_an_openai_error);
	suite_add_tcase(s, errors);

	tcase_add_test(streams, a_text_stream_becomes_chunks_then_done);
	tcase_add_test(streams, a_streamed_tool_call_arrives_in_pieces);
	tcase_add_test(streams, an_error_event_ends_the_stream_with_its_words);
	tcase_add_test(streams, an_event_that_cannot_be_understood_is_an_error);
	tcase_add_test(streams, unknown_event_types_are_ignored);
	tcase_add_test(formats, a_json_schema_becomes_a_forced_answer_tool);
	tcase_add_test(formats, a_json_schema_beside_client_tools_lets_the_model_call_any);
	tcase_add_test(formats, a_response_format_anthropic_cannot_answer_is_refused);
	tcase_add_test(formats, parameters_without_an_anthropic_form_are_refused_by_name);
	tcase_add_test(formats, the_answer_tool_call_comes_back_as_content);
	tcase_add_test(formats, thinking_and_cache_reads_come_back_in_openai_terms);
	tcase_add_test(formats, a_streamed_answer_tool_call_streams_as_content);
	tcase_add_test(formats, streamed_thinking_is_reasoning_content_and_cache_reads_are_counted);
	tcase_add_test(formats, a_stream_of_a_hundred_tool_calls_is_followed_to_the_end);
	suite_add_tcase(s, streams);
	suite_add_tcase(s, formats);
	return s;
}

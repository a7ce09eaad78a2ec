/* test_responses.c — the Responses API to and from chat completions on fixtures shaped like OpenAI's: requests, conversation state, answers and event streams. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "responses.h"
#include "sse.h"
#include "suites.h"

/* ---- helpers ---- */

/* Translates a Responses request given as text; returns the chat body as text (the caller frees it). */
static char *translate(const char *request_text, const struct responses_options *o)
{
	struct buf out;
	char why[256] = "";
	enum responses_result rc;
	size_t len;

	buf_init(&out, 1 << 20);
	rc = responses_request_bytes(request_text, strlen(request_text), o, &out, why, sizeof why);
	ck_assert_msg(rc == RESPONSES_OK, "refused (%d): %s", rc, why);
	return buf_take(&out, &len);
}

/* Returns the result for a request given as text, with its reason in why. */
static enum responses_result refuse(const char *request_text, char *why, size_t whylen)
{
	struct buf out;
	enum responses_result rc;

	buf_init(&out, 1 << 20);
	rc = responses_request_bytes(request_text, strlen(request_text), NULL, &out, why, whylen);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
	return rc;
}

static void assert_json(const json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
	char *shown = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);

	ck_assert_msg(want != NULL, "bad fixture: %s", want_text);
	ck_assert_msg(json_equal(got, want), "got %s, want %s", shown ? shown : "(null)", want_text);
	free(shown);
	json_decref(want);
}

/* The ids a fresh rng seeded with seed gives, in order, with these prefixes. */
static void expected_ids(uint64_t seed, const char *const *prefixes, size_t n, char ids[][RESPONSES_ID_SIZE])
{
	struct rng r;
	size_t i;

	rng_seed_with(&r, seed);
	for (i = 0; i < n; i++)
		responses_id(&r, prefixes[i], ids[i]);
}

/* ---- requests ---- */

START_TEST(string_input_becomes_one_user_message)
{
	char *chat = translate("{\"model\":\"gpt-4o\",\"input\":\"Tell me a three sentence bedtime story about a unicorn.\"}",
			       NULL);

	ck_assert_str_eq(chat, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
			       "\"Tell me a three sentence bedtime story about a unicorn.\"}]}");
	free(chat);
}
END_TEST

START_TEST(instructions_and_settings_carry_over)
{
	char *chat = translate("{\"model\":\"gpt-4.1\",\"instructions\":\"Talk like a pirate.\","
			       "\"input\":\"Are semicolons optional in JavaScript?\",\"temperature\":0.2,\"top_p\":0.9,"
			       "\"max_output_tokens\":300,\"stream\":true,\"user\":\"u-1\",\"store\":false,"
			       "\"metadata\":{\"k\":\"v\"},\"previous_response_id\":null,\"truncation\":\"auto\"}",
			       NULL);

	ck_assert_str_eq(chat, "{\"model\":\"gpt-4.1\",\"messages\":["
			       "{\"role\":\"system\",\"content\":\"Talk like a pirate.\"},"
			       "{\"role\":\"user\",\"content\":\"Are semicolons optional in JavaScript?\"}],"
			       "\"temperature\":0.20000000000000001,\"top_p\":0.90000000000000002,\"user\":\"u-1\","
			       "\"max_tokens\":300,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
	free(chat);
}
END_TEST

START_TEST(reasoning_effort_asks_for_max_completion_tokens)
{
	char *chat = translate("{\"model\":\"o4-mini\",\"input\":\"hi\",\"reasoning\":{\"effort\":\"low\","
			       "\"summary\":\"auto\"},\"max_output_tokens\":100}", NULL);
	json_t *c = json_loads(chat, 0, NULL);
	struct responses_options o = { .model = "target-model", .max_completion_tokens = true };

	assert_json(json_object_get(c, "reasoning_effort"), "\"low\"");
	assert_json(json_object_get(c, "max_completion_tokens"), "100");
	ck_assert_ptr_null(json_object_get(c, "max_tokens"));
	json_decref(c);
	free(chat);
	chat = translate("{\"model\":\"gpt-4o\",\"input\":\"hi\",\"max_output_tokens\":7}", &o);
	ck_assert_str_eq(chat, "{\"model\":\"target-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
			       "\"max_completion_tokens\":7}");
	free(chat);
}
END_TEST

/* The SDK's function calling guide, second turn: the model's call and its output sent back. */
START_TEST(a_function_call_round_trip_becomes_tool_calls_and_a_tool_message)
{
	char *chat = translate(
		"{\"model\":\"gpt-4.1\",\"input\":["
		"{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"What is the weather like in Paris today?\"}]},"
		"{\"type\":\"function_call\",\"id\":\"fc_12345xyz\",\"call_id\":\"call_12345xyz\",\"name\":\"get_weather\","
		"\"arguments\":\"{\\\"location\\\":\\\"Paris, France\\\"}\",\"status\":\"completed\"},"
		"{\"type\":\"function_call_output\",\"call_id\":\"call_12345xyz\",\"output\":\"14\"}],"
		"\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"Get current temperature for a given location.\","
		"\"parameters\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},\"required\":[\"location\"],"
		"\"additionalProperties\":false},\"strict\":true}],"
		"\"tool_choice\":{\"type\":\"function\",\"name\":\"get_weather\"},\"parallel_tool_calls\":false}",
		NULL);

	ck_assert_str_eq(chat,
		"{\"model\":\"gpt-4.1\",\"messages\":["
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is the weather like in Paris today?\"}]},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_12345xyz\",\"type\":\"function\","
		"\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris, France\\\"}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"call_12345xyz\",\"content\":\"14\"}],"
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Get current temperature for a given location.\","
		"\"parameters\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},\"required\":[\"location\"],"
		"\"additionalProperties\":false},\"strict\":true}}],"
		"\"parallel_tool_calls\":false,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}");
	free(chat);
}
END_TEST

START_TEST(an_answer_and_its_parallel_calls_are_one_assistant_turn)
{
	char *chat = translate(
		"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"both\"},"
		"{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":["
		"{\"type\":\"output_text\",\"text\":\"Checking \",\"annotations\":[]},{\"type\":\"output_text\",\"text\":\"both.\",\"annotations\":[]}]},"
		"{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"a\",\"arguments\":\"{}\"},"
		"{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"b\"},"
		"{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},"
		"{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":[{\"type\":\"input_text\",\"text\":\"A\"}]},"
		"{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":\"B\"},"
		"{\"role\":\"developer\",\"content\":[{\"type\":\"input_text\",\"text\":\"Be brief.\"}]},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"https://x/y.png\",\"detail\":\"low\"}]}]}",
		NULL);

	ck_assert_str_eq(chat,
		"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"both\"},"
		"{\"role\":\"assistant\",\"content\":\"Checking both.\",\"tool_calls\":["
		"{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}},"
		"{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"A\"},"
		"{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"B\"},"
		"{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Be brief.\"}]},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\",\"detail\":\"low\"}}]}]}");
	free(chat);
}
END_TEST

START_TEST(text_format_becomes_response_format)
{
	char *chat = translate(
		"{\"model\":\"gpt-4o-2024-08-06\",\"input\":\"Alice and Bob are going to a science fair on Friday.\","
		"\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"calendar_event\",\"schema\":{\"type\":\"object\","
		"\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"],\"additionalProperties\":false},"
		"\"strict\":true}}}",
		NULL);

	ck_assert_str_eq(chat,
		"{\"model\":\"gpt-4o-2024-08-06\",\"messages\":[{\"role\":\"user\",\"content\":"
		"\"Alice and Bob are going to a science fair on Friday.\"}],"
		"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"calendar_event\",\"schema\":"
		"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"],"
		"\"additionalProperties\":false},\"strict\":true}}}");
	free(chat);
	chat = translate("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_object\"}}}", NULL);
	ck_assert_str_eq(chat, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
			       "\"response_format\":{\"type\":\"json_object\"}}");
	free(chat);
	chat = translate("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"text\"}}}", NULL);
	ck_assert_str_eq(chat, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
	free(chat);
}
END_TEST

START_TEST(what_chat_cannot_say_is_refused_by_name)
{
	static const struct {
		const char *request;
		const char *why;
	} cases[] = {
		{ "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"web_search_preview\"}]}",
		  "tools[0]: the built-in tool \"web_search_preview\" cannot be used over chat completions" },
		{ "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\"},"
		  "{\"type\":\"file_search\",\"vector_store_ids\":[\"vs_1\"]}]}",
		  "tools[1]: the built-in tool \"file_search\" cannot be used over chat completions" },
		{ "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"computer_use_preview\",\"display_width\":1024}]}",
		  "tools[0]: the built-in tool \"computer_use_preview\" cannot be used over chat completions" },
		{ "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"file_id\":\"file-1\"}]}]}",
		  "input[0].content[0]: an input_image with a file_id cannot be sent as a chat completion (only an image_url can)" },
		{ "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\",\"file_id\":\"file-1\"}]}]}",
		  "input[0].content[0]: part type \"input_file\" cannot be sent as a chat completion" },
		{ "{\"model\":\"m\",\"input\":[{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\"}]}",
		  "input[0]: item type \"web_search_call\" cannot be sent as a chat completion" },
		{ "{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":\"msg_1\"}]}",
		  "input[0]: item type \"item_reference\" cannot be sent as a chat completion" },
		{ "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],"
		  "\"tool_choice\":{\"type\":\"file_search\"}}",
		  "tool_choice of type \"file_search\" cannot be used over chat completions" },
		{ "{\"model\":\"m\",\"input\":\"x\",\"background\":true}",
		  "background responses cannot be made over chat completions" },
		{ "{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"grammar\"}}}",
		  "text.format of type \"grammar\" cannot be sent as a chat completion" },
		{ "{\"input\":\"x\"}", "model is required" },
		{ "{\"model\":\"m\",\"input\":[]}", "input holds nothing to send" },
		{ "{\"model\":\"m\",\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
		  "input[0]: role \"tool\" cannot be sent as a chat completion" },
		{ "{\"model\":\"m\",\"input\":", "the body is not JSON (at byte 21): unexpected token near end of file" },
	};
	char why[256];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		why[0] = '\0';
		ck_assert_msg(refuse(cases[i].request, why, sizeof why) == RESPONSES_REFUSED, "case %zu not refused", i);
		ck_assert_str_eq(why, cases[i].why);
	}
}
END_TEST

START_TEST(a_full_output_buffer_fails_and_leaves_it_as_it_was)
{
	const char *request = "{\"model\":\"m\",\"input\":\"a question longer than the buffer\"}";
	struct buf out;
	char why[128];

	buf_init(&out, 32);
	ck_assert_int_eq(buf_append_str(&out, "kept"), 0);
	ck_assert_int_eq(responses_request_bytes(request, strlen(request), NULL, &out, why, sizeof why),
			 RESPONSES_FAILED);
	ck_assert_str_eq(out.data, "kept");
	buf_free(&out);
}
END_TEST

/* ---- conversation state ---- */

START_TEST(previous_response_id_expands_into_the_whole_conversation)
{
	json_t *request = json_loads("{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"instructions\":\"new\","
				     "\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"14\"}]}",
				     0, NULL);
	json_t *previous_input = json_loads("[{\"type\":\"message\",\"role\":\"user\",\"content\":\"weather?\"}]", 0, NULL);
	json_t *previous = json_loads(
		"{\"id\":\"resp_1\",\"object\":\"response\",\"output\":["
		"{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},"
		"{\"type\":\"reasoning\",\"id\":\"rs_2\",\"summary\":[],\"encrypted_content\":\"gAAA\"},"
		"{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
		"\"arguments\":\"{}\",\"status\":\"completed\"}]}",
		0, NULL);
	json_t *made = responses_continue(request, previous_input, previous), *items;

	ck_assert_ptr_nonnull(made);
	assert_json(json_object_get(made, "input"),
		    "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"weather?\"},"
		    "{\"type\":\"reasoning\",\"id\":\"rs_2\",\"summary\":[],\"encrypted_content\":\"gAAA\"},"
		    "{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
		    "\"arguments\":\"{}\",\"status\":\"completed\"},"
		    "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"14\"}]");
	assert_json(json_object_get(made, "instructions"), "\"new\"");
	assert_json(json_object_get(made, "previous_response_id"), "\"resp_1\"");
	/* The client's request is left as it was. */
	ck_assert_uint_eq(json_array_size(json_object_get(request, "input")), 1);
	json_decref(made);

	json_object_set_new(request, "input", json_string("and tomorrow?"));
	items = responses_input_items(request);
	assert_json(items, "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"and tomorrow?\"}]");
	json_decref(items);
	json_object_set_new(request, "input", json_integer(3));
	ck_assert_ptr_null(responses_continue(request, previous_input, previous));
	json_decref(request);
	json_decref(previous_input);
	json_decref(previous);
}
END_TEST

/* ---- whole answers ---- */

static const char chat_text_answer[] =
	"{\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion\",\"created\":1741570283,"
	"\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	"\"content\":\"Under a silver moon, Lumina the unicorn slept.\",\"refusal\":null,\"annotations\":[]},"
	"\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":36,\"completion_tokens\":87,"
	"\"total_tokens\":123,\"prompt_tokens_details\":{\"cached_tokens\":4,\"audio_tokens\":0},"
	"\"completion_tokens_details\":{\"reasoning_tokens\":2,\"audio_tokens\":0}},\"service_tier\":\"default\"}";

START_TEST(a_text_answer_becomes_a_completed_response)
{
	json_t *request = json_loads("{\"model\":\"gpt-4o\",\"input\":\"Tell me a story.\",\"instructions\":\"Be kind.\","
				     "\"temperature\":0.5,\"metadata\":{\"k\":\"v\"},\"store\":false}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_abc", .created_at = 1741570283 };
	static const char *const prefixes[] = { "msg_" };
	char ids[1][RESPONSES_ID_SIZE], want[4096];
	struct rng rng;
	json_t *response;

	rng_seed_with(&rng, 7);
	expected_ids(7, prefixes, 1, ids);
	ck_assert_uint_eq(strlen(ids[0]), 4 + 48);
	response = responses_answer(&m, chat_text_answer, strlen(chat_text_answer), &rng);
	ck_assert_ptr_nonnull(response);
	snprintf(want, sizeof want,
		 "{\"id\":\"resp_abc\",\"object\":\"response\",\"created_at\":1741570283,\"status\":\"completed\","
		 "\"background\":false,\"error\":null,\"incomplete_details\":null,\"instructions\":\"Be kind.\","
		 "\"max_output_tokens\":null,\"model\":\"gpt-4o-2024-08-06\",\"output\":[{\"type\":\"message\","
		 "\"id\":\"%s\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
		 "\"text\":\"Under a silver moon, Lumina the unicorn slept.\",\"annotations\":[]}]}],"
		 "\"parallel_tool_calls\":true,\"previous_response_id\":null,\"reasoning\":{\"effort\":null,\"summary\":null},"
		 "\"store\":false,\"temperature\":0.5,\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\","
		 "\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":{\"input_tokens\":36,"
		 "\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":87,\"output_tokens_details\":"
		 "{\"reasoning_tokens\":2},\"total_tokens\":123},\"user\":null,\"metadata\":{\"k\":\"v\"}}",
		 ids[0]);
	assert_json(response, want);
	json_decref(response);
	json_decref(request);
}
END_TEST

START_TEST(a_tool_call_answer_becomes_function_call_items)
{
	static const char chat[] =
		"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4.1\",\"choices\":["
		"{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		"{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\"}},"
		"{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
		"\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5}}";
	json_t *request = json_loads("{\"model\":\"gpt-4.1\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
				     "\"name\":\"get_weather\"}]}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_t", .created_at = 5 };
	static const char *const prefixes[] = { "fc_", "fc_" };
	char ids[2][RESPONSES_ID_SIZE], want[1024];
	struct rng rng;
	json_t *response;

	rng_seed_with(&rng, 9);
	expected_ids(9, prefixes, 2, ids);
	ck_assert_str_ne(ids[0], ids[1]);
	response = responses_answer(&m, chat, strlen(chat), &rng);
	ck_assert_ptr_nonnull(response);
	snprintf(want, sizeof want,
		 "[{\"type\":\"function_call\",\"id\":\"%s\",\"call_id\":\"call_a\",\"name\":\"get_weather\","
		 "\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\",\"status\":\"completed\"},"
		 "{\"type\":\"function_call\",\"id\":\"%s\",\"call_id\":\"call_b\",\"name\":\"get_time\","
		 "\"arguments\":\"{}\",\"status\":\"completed\"}]",
		 ids[0], ids[1]);
	assert_json(json_object_get(response, "output"), want);
	assert_json(json_object_get(response, "status"), "\"completed\"");
	assert_json(json_object_get(response, "tools"), "[{\"type\":\"function\",\"name\":\"get_weather\"}]");
	/* total_tokens absent from the chat usage: the sum. */
	assert_json(json_object_get(response, "usage"),
		    "{\"input_tokens\":10,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":5,"
		    "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":15}");
	json_decref(response);
	json_decref(request);
}
END_TEST

START_TEST(length_and_content_filter_leave_the_response_incomplete)
{
	static const char *const reasons[][2] = { { "length", "max_output_tokens" },
						   { "content_filter", "content_filter" } };
	json_t *request = json_loads("{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":16}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_i", .created_at = 5 };
	char chat[512], want[64];
	struct rng rng;
	json_t *response;
	size_t i;

	rng_seed_with(&rng, 1);
	for (i = 0; i < 2; i++) {
		snprintf(chat, sizeof chat,
			 "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
			 "\"message\":{\"role\":\"assistant\",\"content\":\"Once upon\"},\"finish_reason\":\"%s\"}]}",
			 reasons[i][0]);
		response = responses_answer(&m, chat, strlen(chat), &rng);
		ck_assert_ptr_nonnull(response);
		assert_json(json_object_get(response, "status"), "\"incomplete\"");
		snprintf(want, sizeof want, "{\"reason\":\"%s\"}", reasons[i][1]);
		assert_json(json_object_get(response, "incomplete_details"), want);
		assert_json(json_object_get(json_array_get(json_object_get(response, "output"), 0), "status"),
			    "\"incomplete\"");
		assert_json(json_object_get(response, "max_output_tokens"), "16");
		json_decref(response);
	}
	json_decref(request);
}
END_TEST

START_TEST(an_answer_that_is_not_a_chat_completion_is_refused)
{
	json_t *request = json_loads("{\"model\":\"m\",\"input\":\"x\"}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_x", .created_at = 5 };
	struct rng rng;
	struct buf out;

	rng_seed_with(&rng, 1);
	buf_init(&out, 1 << 16);
	ck_assert_ptr_null(responses_answer(&m, "{\"choices\":[]}", 14, &rng));
	ck_assert_ptr_null(responses_answer(&m, "<html>", 6, &rng));
	ck_assert_int_eq(responses_answer_bytes(&m, "<html>", 6, &rng, &out), -1);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(responses_answer_bytes(&m, chat_text_answer, strlen(chat_text_answer), &rng, &out), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "\"object\":\"response\""));
	buf_free(&out);
	json_decref(request);
}
END_TEST

/* ---- streams ---- */

/* The events of a stream, as [{"event": name, "data": parsed}]. */
static int collect_event(void *arg, const struct sse_event *ev)
{
	json_t *list = arg, *data = json_loadb(ev->data, ev->data_len, 0, NULL);

	ck_assert_ptr_nonnull(data);
	json_array_append_new(list, json_pack("{s:s%,s:o}", "event", ev->name, ev->name_len, "data", data));
	return 0;
}

static json_t *events_of(const struct buf *out)
{
	struct sse_parser p;
	json_t *list = json_array();
	size_t i;
	json_t *ev;

	sse_init(&p);
	ck_assert_int_eq(sse_feed(&p, out->data, out->len, collect_event, list), SSE_OK);
	ck_assert(!sse_partial(&p));
	sse_free(&p);
	/* Every event names itself twice, and is numbered in order from 0. */
	json_array_foreach(list, i, ev) {
		json_t *data = json_object_get(ev, "data");

		ck_assert(json_equal(json_object_get(ev, "event"), json_object_get(data, "type")));
		ck_assert_int_eq(json_integer_value(json_object_get(data, "sequence_number")), (json_int_t)i);
	}
	return list;
}

static void assert_event_names(const json_t *events, const char *const *names, size_t n)
{
	size_t i;

	ck_assert_uint_eq(json_array_size(events), n);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(events, i), "event")), names[i]);
}

static const json_t *event_data(const json_t *events, size_t i)
{
	return json_object_get(json_array_get(events, i), "data");
}

static enum responses_stream_event chunk(struct responses_stream *s, const char *text, struct buf *out)
{
	return responses_stream_chunk(s, text, strlen(text), out);
}

#define CHUNK_HEAD "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","

START_TEST(a_text_stream_becomes_the_responses_event_sequence)
{
	static const char *const names[] = {
		"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.delta", "response.output_text.done",
		"response.content_part.done", "response.output_item.done", "response.completed",
	};
	static const char *const prefixes[] = { "msg_" };
	json_t *request = json_loads("{\"model\":\"gpt-4o-mini\",\"input\":\"hi\",\"stream\":true}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_s", .created_at = 9 };
	char ids[1][RESPONSES_ID_SIZE], want[1024];
	struct responses_stream s;
	struct rng rng;
	struct buf out;
	json_t *events, *final;

	rng_seed_with(&rng, 3);
	expected_ids(3, prefixes, 1, ids);
	buf_init(&out, 1 << 20);
	responses_stream_init(&s, &m, &rng);
	ck_assert_int_eq(responses_stream_begin(&s, &out), 0);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
				  "\"finish_reason\":null}]}", &out), RESPONSES_STREAM_NONE);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}",
			       &out), RESPONSES_STREAM_CONTENT);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}",
			       &out), RESPONSES_STREAM_CONTENT);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}", &out),
			 RESPONSES_STREAM_NONE);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":2,"
				  "\"total_tokens\":10}}", &out), RESPONSES_STREAM_NONE);
	ck_assert_int_eq(chunk(&s, "[DONE]", &out), RESPONSES_STREAM_DONE);
	events = events_of(&out);
	assert_event_names(events, names, sizeof names / sizeof names[0]);

	assert_json(json_object_get(json_object_get(event_data(events, 0), "response"), "status"), "\"in_progress\"");
	assert_json(json_object_get(json_object_get(event_data(events, 0), "response"), "output"), "[]");
	snprintf(want, sizeof want, "{\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,"
		 "\"item\":{\"id\":\"%s\",\"type\":\"message\",\"status\":\"in_progress\",\"content\":[],\"role\":\"assistant\"}}",
		 ids[0]);
	assert_json(event_data(events, 2), want);
	snprintf(want, sizeof want, "{\"type\":\"response.content_part.added\",\"sequence_number\":3,\"item_id\":\"%s\","
		 "\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"annotations\":[],\"text\":\"\"}}",
		 ids[0]);
	assert_json(event_data(events, 3), want);
	snprintf(want, sizeof want, "{\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"%s\","
		 "\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}", ids[0]);
	assert_json(event_data(events, 4), want);
	snprintf(want, sizeof want, "{\"type\":\"response.output_text.done\",\"sequence_number\":6,\"item_id\":\"%s\","
		 "\"output_index\":0,\"content_index\":0,\"text\":\"Hello\"}", ids[0]);
	assert_json(event_data(events, 6), want);
	snprintf(want, sizeof want, "{\"type\":\"response.output_item.done\",\"sequence_number\":8,\"output_index\":0,"
		 "\"item\":{\"id\":\"%s\",\"type\":\"message\",\"status\":\"completed\",\"content\":[{\"type\":\"output_text\","
		 "\"annotations\":[],\"text\":\"Hello\"}],\"role\":\"assistant\"}}", ids[0]);
	assert_json(event_data(events, 8), want);

	final = json_object_get(event_data(events, 9), "response");
	assert_json(json_object_get(final, "status"), "\"completed\"");
	assert_json(json_object_get(final, "model"), "\"gpt-4o-mini\"");
	assert_json(json_object_get(json_object_get(final, "usage"), "total_tokens"), "10");
	ck_assert_uint_eq(json_array_size(json_object_get(final, "output")), 1);
	ck_assert(json_equal(json_array_get(json_object_get(final, "output"), 0),
			     json_object_get(event_data(events, 8), "item")));
	/* What the store keeps is what the last event said. */
	buf_reset(&out);
	ck_assert_int_eq(responses_stream_response_bytes(&s, &out), 0);
	final = json_loadb(out.data, out.len, 0, NULL);
	ck_assert(json_equal(final, json_object_get(event_data(events, 9), "response")));
	json_decref(final);
	json_decref(events);
	responses_stream_free(&s);
	buf_free(&out);
	json_decref(request);
}
END_TEST

START_TEST(a_tool_call_stream_becomes_function_call_events)
{
	static const char *const names[] = {
		"response.created", "response.in_progress",
		"response.output_item.added", "response.function_call_arguments.delta",
		"response.function_call_arguments.delta", "response.function_call_arguments.done",
		"response.output_item.done",
		"response.output_item.added", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done", "response.completed",
	};
	static const char *const prefixes[] = { "fc_", "fc_" };
	json_t *request = json_loads("{\"model\":\"gpt-4.1\",\"input\":\"x\",\"stream\":true}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_c", .created_at = 9 };
	char ids[2][RESPONSES_ID_SIZE], want[1024];
	struct responses_stream s;
	struct rng rng;
	struct buf out;
	json_t *events, *final;

	rng_seed_with(&rng, 4);
	expected_ids(4, prefixes, 2, ids);
	buf_init(&out, 1 << 20);
	responses_stream_init(&s, &m, &rng);
	ck_assert_int_eq(responses_stream_begin(&s, &out), 0);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
				  "\"tool_calls\":[{\"index\":0,\"id\":\"call_w\",\"type\":\"function\",\"function\":{\"name\":"
				  "\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}", &out),
			 RESPONSES_STREAM_CONTENT);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
				  "\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]},\"finish_reason\":null}]}", &out),
			 RESPONSES_STREAM_CONTENT);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
				  "\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}", &out),
			 RESPONSES_STREAM_CONTENT);
	/* A whole call in one piece, as some upstreams send it. */
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,"
				  "\"id\":\"call_t\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
				  "\"finish_reason\":null}]}", &out), RESPONSES_STREAM_CONTENT);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
			       &out), RESPONSES_STREAM_NONE);
	ck_assert_int_eq(responses_stream_finish(&s, &out), 0);
	events = events_of(&out);
	assert_event_names(events, names, sizeof names / sizeof names[0]);

	snprintf(want, sizeof want, "{\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,"
		 "\"item\":{\"id\":\"%s\",\"type\":\"function_call\",\"status\":\"in_progress\",\"arguments\":\"\","
		 "\"call_id\":\"call_w\",\"name\":\"get_weather\"}}", ids[0]);
	assert_json(event_data(events, 2), want);
	snprintf(want, sizeof want, "{\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":3,"
		 "\"item_id\":\"%s\",\"output_index\":0,\"delta\":\"{\\\"location\\\":\"}", ids[0]);
	assert_json(event_data(events, 3), want);
	snprintf(want, sizeof want, "{\"type\":\"response.function_call_arguments.done\",\"sequence_number\":5,"
		 "\"item_id\":\"%s\",\"output_index\":0,\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\"}", ids[0]);
	assert_json(event_data(events, 5), want);
	snprintf(want, sizeof want, "[{\"id\":\"%s\",\"type\":\"function_call\",\"status\":\"completed\","
		 "\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\",\"call_id\":\"call_w\",\"name\":\"get_weather\"},"
		 "{\"id\":\"%s\",\"type\":\"function_call\",\"status\":\"completed\",\"arguments\":\"{}\","
		 "\"call_id\":\"call_t\",\"name\":\"get_time\"}]", ids[0], ids[1]);
	final = json_object_get(event_data(events, 11), "response");
	assert_json(json_object_get(final, "output"), want);
	assert_json(json_object_get(final, "status"), "\"completed\"");
	/* No usage chunk came: zeros, not null, once the response is whole. */
	assert_json(json_object_get(json_object_get(final, "usage"), "total_tokens"), "0");
	json_decref(events);
	responses_stream_free(&s);
	buf_free(&out);
	json_decref(request);
}
END_TEST

START_TEST(a_stream_cut_after_a_delta_ends_in_response_failed)
{
	static const char *const names[] = {
		"response.created", "response.in_progress", "response.output_item.added",
		"response.content_part.added", "response.output_text.delta", "response.failed",
	};
	json_t *request = json_loads("{\"model\":\"m\",\"input\":\"x\",\"stream\":true}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_f", .created_at = 9 };
	struct responses_stream s;
	struct rng rng;
	struct buf out;
	json_t *events, *final, *item;

	rng_seed_with(&rng, 5);
	buf_init(&out, 1 << 20);
	responses_stream_init(&s, &m, &rng);
	ck_assert_int_eq(responses_stream_begin(&s, &out), 0);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once\"}}]}", &out),
			 RESPONSES_STREAM_CONTENT);
	ck_assert_int_eq(responses_stream_fail(&s, "server_error", "the upstream stream was cut", &out), 0);
	/* Nothing follows the end. */
	ck_assert_int_eq(responses_stream_fail(&s, "server_error", "again", &out), -1);
	ck_assert_int_eq(chunk(&s, "[DONE]", &out), RESPONSES_STREAM_ERROR);
	events = events_of(&out);
	assert_event_names(events, names, sizeof names / sizeof names[0]);
	final = json_object_get(event_data(events, 5), "response");
	assert_json(json_object_get(final, "status"), "\"failed\"");
	assert_json(json_object_get(final, "error"), "{\"code\":\"server_error\",\"message\":\"the upstream stream was cut\"}");
	assert_json(json_object_get(json_array_get(json_object_get(final, "output"), 0), "status"), "\"incomplete\"");
	item = json_array_get(json_object_get(final, "output"), 0);
	assert_json(json_object_get(json_array_get(json_object_get(item, "content"), 0), "text"), "\"Once\"");
	assert_json(json_object_get(final, "usage"), "null");
	json_decref(events);
	responses_stream_free(&s);
	buf_free(&out);
	json_decref(request);
}
END_TEST

START_TEST(a_stream_stopped_by_length_ends_in_response_incomplete)
{
	json_t *request = json_loads("{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":2}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_l", .created_at = 9 };
	struct responses_stream s;
	struct rng rng;
	struct buf out;
	json_t *events, *last, *final;

	rng_seed_with(&rng, 6);
	buf_init(&out, 1 << 20);
	responses_stream_init(&s, &m, &rng);
	ck_assert_int_eq(responses_stream_begin(&s, &out), 0);
	chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once upon\"},\"finish_reason\":\"length\"}]}",
	      &out);
	ck_assert_int_eq(chunk(&s, "[DONE]", &out), RESPONSES_STREAM_DONE);
	events = events_of(&out);
	last = json_array_get(events, json_array_size(events) - 1);
	assert_json(json_object_get(last, "event"), "\"response.incomplete\"");
	final = json_object_get(json_object_get(last, "data"), "response");
	assert_json(json_object_get(final, "status"), "\"incomplete\"");
	assert_json(json_object_get(final, "incomplete_details"), "{\"reason\":\"max_output_tokens\"}");
	assert_json(json_object_get(json_array_get(json_object_get(final, "output"), 0), "status"), "\"incomplete\"");
	json_decref(events);
	responses_stream_free(&s);
	buf_free(&out);
	json_decref(request);
}
END_TEST

START_TEST(a_stream_past_its_caps_or_not_json_is_an_error_that_writes_nothing)
{
	json_t *request = json_loads("{\"model\":\"m\",\"input\":\"x\"}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_e", .created_at = 9 };
	struct responses_stream s;
	struct rng rng;
	struct buf out;
	char piece[256];
	size_t before;
	int i;

	rng_seed_with(&rng, 8);
	buf_init(&out, 1 << 22);
	responses_stream_init(&s, &m, &rng);
	ck_assert_int_eq(responses_stream_begin(&s, &out), 0);
	before = out.len;
	ck_assert_int_eq(chunk(&s, "{not json", &out), RESPONSES_STREAM_ERROR);
	ck_assert_str_eq(s.words, "a stream chunk that is not a JSON object");
	ck_assert_uint_eq(out.len, before);
	for (i = 0; i < RESPONSES_STREAM_MAX_ITEMS; i++) {
		snprintf(piece, sizeof piece, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,"
			 "\"id\":\"c%d\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}", i, i);
		ck_assert_int_eq(chunk(&s, piece, &out), RESPONSES_STREAM_CONTENT);
	}
	before = out.len;
	snprintf(piece, sizeof piece, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,"
		 "\"id\":\"cx\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}", i);
	ck_assert_int_eq(chunk(&s, piece, &out), RESPONSES_STREAM_ERROR);
	ck_assert_str_eq(s.words, "the answer has more than 32 output items");
	ck_assert_uint_eq(out.len, before);
	/* The stream can still end with response.failed, numbered after the last event written. */
	ck_assert_int_eq(responses_stream_fail(&s, "server_error", "too many tool calls", &out), 0);
	json_decref(events_of(&out));
	responses_stream_free(&s);
	buf_free(&out);
	json_decref(request);
}
END_TEST

START_TEST(arguments_for_a_closed_call_are_an_error)
{
	json_t *request = json_loads("{\"model\":\"m\",\"input\":\"x\"}", 0, NULL);
	struct responses_meta m = { .request = request, .id = "resp_e", .created_at = 9 };
	struct responses_stream s;
	struct rng rng;
	struct buf out;

	rng_seed_with(&rng, 8);
	buf_init(&out, 1 << 20);
	responses_stream_init(&s, &m, &rng);
	ck_assert_int_eq(responses_stream_begin(&s, &out), 0);
	chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\","
		  "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}", &out);
	chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"text after\"}}]}", &out);
	ck_assert_int_eq(chunk(&s, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
				  "\"function\":{\"arguments\":\"{}\"}}]}}]}", &out), RESPONSES_STREAM_ERROR);
	ck_assert_str_eq(s.words, "arguments for tool call 0 came after it was closed");
	responses_stream_free(&s);
	buf_free(&out);
	json_decref(request);
}
END_TEST

Suite *responses_suite(void)
{
	Suite *s = suite_create("responses");
	TCase *requests = tcase_create("requests"), *state = tcase_create("state");
	TCase *answers = tcase_create("answers"), *streams = tcase_create("streams");

	tcase_add_test(requests, string_input_becomes_one_user_message);
	tcase_add_test(requests, instructions_and_settings_carry_over);
	tcase_add_test(requests, reasoning_effort_asks_for_max_completion_tokens);
	tcase_add_test(requests, a_function_call_round_trip_becomes_tool_calls_and_a_tool_message);
	tcase_add_test(requests, an_answer_and_its_parallel_calls_are_one_assistant_turn);
	tcase_add_test(requests, text_format_becomes_response_format);
	tcase_add_test(requests, what_chat_cannot_say_is_refused_by_name);
	tcase_add_test(requests, a_full_output_buffer_fails_and_leaves_it_as_it_was);
	suite_add_tcase(s, requests);

	tcase_add_test(state, previous_response_id_expands_into_the_whole_conversation);
	suite_add_tcase(s, state);

	tcase_add_test(answers, a_text_answer_becomes_a_completed_response);
	tcase_add_test(answers, a_tool_call_answer_becomes_function_call_items);
	tcase_add_test(answers, length_and_content_filter_leave_the_response_incomplete);
	tcase_add_test(answers, an_answer_that_is_not_a_chat_completion_is_refused);
	suite_add_tcase(s, answers);

	tcase_add_test(streams, a_text_stream_becomes_the_responses_event_sequence);
	tcase_add_test(streams, a_tool_call_stream_becomes_function_call_events);
	tcase_add_test(streams, a_stream_cut_after_a_delta_ends_in_response_failed);
	tcase_add_test(streams, a_stream_stopped_by_length_ends_in_response_incomplete);
	tcase_add_test(streams, a_stream_past_its_caps_or_not_json_is_an_error_that_writes_nothing);
	tcase_add_test(streams, arguments_for_a_closed_call_are_an_error);
	suite_add_tcase(s, streams);
	return s;
}

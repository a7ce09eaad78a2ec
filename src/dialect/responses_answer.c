/* responses_answer.c — a chat completion as a Responses API `response` object: the echoed request, output items, status and usage. */
#include "responses.h"

#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "responses_write.h"

/* The request's value at key (not null), else fallback; fallback is taken either way. */
static json_t *responses_echo(const json_t *request, const char *key, json_t *fallback)
{
	json_t *v = json_object_get(request, key);

	if (v == NULL || json_is_null(v))
		return fallback;
	json_decref(fallback);
	return json_incref(v);
}

json_t *responses_object(const struct responses_meta *m, const char *status)
{
	const json_t *r = m->request;
	json_t *reasoning = json_object_get(r, "reasoning");

	/* Every "o" below is taken by json_pack, on failure too. */
	return json_pack("{s:s,s:s,s:I,s:s,s:b,s:n,s:n,s:o,s:o,s:o,s:[],s:o,s:o,s:{s:o,s:o},s:o,s:o,s:o,s:o,s:o,"
			 "s:o,s:o,s:n,s:o,s:o}",
			 "id", m->id,
			 "object", "response",
			 "created_at", (json_int_t)m->created_at,
			 "status", status,
			 "background", 0,
			 "error",
			 "incomplete_details",
			 "instructions", responses_echo(r, "instructions", json_null()),
			 "max_output_tokens", responses_echo(r, "max_output_tokens", json_null()),
			 "model", responses_echo(r, "model", json_string("")),
			 "output",
			 "parallel_tool_calls", responses_echo(r, "parallel_tool_calls", json_true()),
			 "previous_response_id", responses_echo(r, "previous_response_id", json_null()),
			 "reasoning", "effort", responses_echo(reasoning, "effort", json_null()),
			 "summary", responses_echo(reasoning, "summary", json_null()),
			 "store", responses_echo(r, "store", json_true()),
			 "temperature", responses_echo(r, "temperature", json_real(1.0)),
			 "text", responses_echo(r, "text", json_pack("{s:{s:s}}", "format", "type", "text")),
			 "tool_choice", responses_echo(r, "tool_choice", json_string("auto")),
			 "tools", responses_echo(r, "tools", json_array()),
			 "top_p", responses_echo(r, "top_p", json_real(1.0)),
			 "truncation", responses_echo(r, "truncation", json_string("disabled")),
			 "usage",
			 "user", responses_echo(r, "user", json_null()),
			 "metadata", responses_echo(r, "metadata", json_object()));
}

/* A whole number >= 0 at key, else 0. */
static json_int_t responses_count(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

json_t *responses_usage(const json_t *chat_usage)
{
	json_int_t input = responses_count(chat_usage, "prompt_tokens");
	json_int_t output = responses_count(chat_usage, "completion_tokens");
	json_int_t total = responses_count(chat_usage, "total_tokens");

	return json_pack("{s:I,s:{s:I},s:I,s:{s:I},s:I}",
			 "input_tokens", input,
			 "input_tokens_details", "cached_tokens",
			 responses_count(json_object_get(chat_usage, "prompt_tokens_details"), "cached_tokens"),
			 "output_tokens", output,
			 "output_tokens_details", "reasoning_tokens",
			 responses_count(json_object_get(chat_usage, "completion_tokens_details"), "reasoning_tokens"),
			 "total_tokens", total > 0 ? total : input + output);
}

/* ---- a whole chat answer, read in place and written as bytes (responses_write.c) ---- */

/* The message item of an answer: its text and refusal as parts. */
static int responses_put_message(struct buf *out, const struct jsonscan_value *content,
				 const struct jsonscan_value *refusal, const char *status, struct rng *rng)
{
	char id[RESPONSES_ID_SIZE];
	int rc;

	responses_id(rng, "msg_", id);
	rc = buf_append_str(out, "{\"type\":\"message\",\"id\":\"");
	rc |= buf_append_str(out, id);
	rc |= buf_append_str(out, "\",\"status\":\"");
	rc |= buf_append_str(out, status);
	rc |= buf_append_str(out, "\",\"role\":\"assistant\",\"content\":[");
	if (jsonscan_is_string(content) || !jsonscan_is_string(refusal)) {
		rc |= buf_append_str(out, "{\"type\":\"output_text\",\"text\":");
		rc |= responses_write_string_or(out, content, "\"\"");
		rc |= buf_append_str(out, ",\"annotations\":[]}");
		if (jsonscan_is_string(refusal))
			rc |= buf_append(out, ",", 1);
	}
	if (jsonscan_is_string(refusal)) {
		rc |= buf_append_str(out, "{\"type\":\"refusal\",\"refusal\":");
		rc |= responses_write_span(out, refusal, NULL);
		rc |= buf_append(out, "}", 1);
	}
	return rc | buf_append_str(out, "]}");
}

/* Writing the function_call items of tool_calls, one element at a time. */
struct responses_calls {
	struct buf *out;
	struct rng *rng;
	bool first;  /* no item written before this one */
	int rc;
};

static int responses_put_call(void *arg, const struct jsonscan_member *m)
{
	static const char *const call_keys[] = { "id", "function" }, *const function_keys[] = { "name", "arguments" };
	struct responses_calls *c = arg;
	struct jsonscan_value call = { m->value, m->value_len, m->type }, got[2], function[2];
	char fc[RESPONSES_ID_SIZE];

	jsonscan_pick(&call, call_keys, got, 2);
	jsonscan_pick(&got[1], function_keys, function, 2);
	responses_id(c->rng, "fc_", fc);
	c->rc |= buf_append_str(c->out, c->first ? "{\"type\":\"function_call\",\"id\":\"" : ",{\"type\":\"function_call\",\"id\":\"");
	c->rc |= buf_append_str(c->out, fc);
	c->rc |= buf_append_str(c->out, "\",\"call_id\":");
	c->rc |= responses_write_string_or(c->out, &got[0], "\"\"");
	c->rc |= buf_append_str(c->out, ",\"name\":");
	c->rc |= responses_write_string_or(c->out, &function[0], "\"\"");
	c->rc |= buf_append_str(c->out, ",\"arguments\":");
	c->rc |= responses_write_string_or(c->out, &function[1], "\"{}\"");
	c->rc |= buf_append_str(c->out, ",\"status\":\"completed\"}");
	c->first = false;
	return c->rc != 0;
}

/* The output items of choice 0's message. */
static int responses_put_output(struct buf *out, const struct jsonscan_value *message, const char *status,
				struct rng *rng)
{
	static const char *const keys[] = { "content", "refusal", "tool_calls" };
	struct jsonscan_value got[3];
	struct responses_calls calls = { out, rng, true, 0 };
	bool has_calls, has_text;

	jsonscan_pick(message, keys, got, 3);
	has_calls = got[2].p != NULL && got[2].type == JSONSCAN_ARRAY && !jsonscan_empty(got[2].p, got[2].n);
	has_text = jsonscan_is_string(&got[0]) && got[0].n > 2;
	/* An answer of tool calls alone has no message item, as from the API;
	 * an empty answer still has one, so output_text is "" and not missing. */
	if (has_text || jsonscan_is_string(&got[1]) || !has_calls) {
		calls.rc = responses_put_message(out, &got[0], &got[1], status, rng);
		calls.first = false;
	}
	if (has_calls && calls.rc == 0)
		jsonscan_elements(got[2].p, got[2].n, responses_put_call, &calls);
	return calls.rc;
}

/* The response object, in responses_object's member order, choice 0 and the answer's model and usage filled in. */
static int responses_put_response(struct buf *out, const struct responses_meta *m, const struct jsonscan_value *top,
				  const struct jsonscan_value *choice, struct rng *rng)
{
	static const char *const keys[] = { "message", "finish_reason" };
	struct jsonscan_value got[2];
	struct responses_counts usage;
	struct buf model;
	const char *reason;
	int rc;

	jsonscan_pick(choice, keys, got, 2);
	if (got[0].p == NULL || got[0].type != JSONSCAN_OBJECT)
		return -1;
	reason = jsonscan_value_is(&got[1], "length") ? "max_output_tokens"
		 : jsonscan_value_is(&got[1], "content_filter") ? "content_filter" : NULL;
	/* A model name with an escape is written again (rare); else as the answer wrote it. */
	buf_init(&model, 4 * top[0].n + 16);
	if (jsonscan_is_string(&top[0]) && memchr(top[0].p, '\\', top[0].n) != NULL &&
	    responses_write_span(&model, &top[0], NULL) != 0) {
		buf_free(&model);
		return -1;
	}
	rc = responses_write_open(out, m, reason != NULL ? "incomplete" : "completed", NULL, reason,
				  model.len > 0 ? model.data : jsonscan_is_string(&top[0]) ? top[0].p : NULL,
				  model.len > 0 ? model.len : top[0].n);
	buf_free(&model);
	if (rc == 0)
		rc = responses_put_output(out, &got[0], reason != NULL ? "incomplete" : "completed", rng);
	responses_write_usage_of(&top[2], &usage);
	return rc | responses_write_close(out, m, &usage);
}

int responses_answer_bytes(const struct responses_meta *m, const char *chat, size_t len, struct rng *rng,
			   struct buf *out)
{
	static const char *const keys[] = { "model", "choices", "usage" };
	struct jsonscan_value root = { chat, len, JSONSCAN_OBJECT }, top[3], choice = { NULL, 0, JSONSCAN_NULL };
	size_t before = out->len;

	if (chat == NULL || !jsonscan_valid_object(chat, len))
		return -1;
	jsonscan_pick(&root, keys, top, 3);
	choice = jsonscan_first(&top[1]);
	if (responses_put_response(out, m, top, &choice, rng) == 0)
		return 0;
	buf_truncate(out, before);
	return -1;
}

json_t *responses_answer(const struct responses_meta *m, const char *chat, size_t len, struct rng *rng)
{
	struct buf out;
	json_t *response = NULL;

	buf_init(&out, 4 * len + 1024 * 1024);
	if (responses_answer_bytes(m, chat, len, rng, &out) == 0)
		response = json_loadb(out.data, out.len, 0, NULL);
	buf_free(&out);
	return response;
}

/* responses_answer.c — a chat completion as a Responses API `response` object: the echoed request, output items, status and usage. */
#include "responses.h"

#include <stdlib.h>
#include <string.h>

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

/* The reason a finish_reason leaves a response incomplete, or NULL when it completed it. */
static const char *responses_incomplete_reason(const json_t *finish_reason)
{
	const char *f = json_is_string(finish_reason) ? json_string_value(finish_reason) : "";

	if (strcmp(f, "length") == 0)
		return "max_output_tokens";
	if (strcmp(f, "content_filter") == 0)
		return "content_filter";
	return NULL;
}

/* Sets status, and incomplete_details when reason is not NULL. */
static int responses_status(json_t *response, const char *reason)
{
	if (reason == NULL)
		return json_object_set_new(response, "status", json_string("completed"));
	if (json_object_set_new(response, "status", json_string("incomplete")) != 0)
		return -1;
	return json_object_set_new(response, "incomplete_details", json_pack("{s:s}", "reason", reason));
}

/* The message item of an answer: its text and refusal as parts. */
static json_t *responses_message_item(const json_t *message, const char *status, struct rng *rng)
{
	json_t *content = json_object_get(message, "content"), *refusal = json_object_get(message, "refusal");
	json_t *parts = json_array();
	char id[RESPONSES_ID_SIZE];

	if (parts == NULL)
		return NULL;
	if ((json_is_string(content) ||
	     !json_is_string(refusal)) &&
	    json_array_append_new(parts, json_pack("{s:s,s:o,s:[]}", "type", "output_text", "text",
						   json_is_string(content) ? json_incref(content) : json_string(""),
						   "annotations")) != 0)
		goto fail;
	if (json_is_string(refusal) &&
	    json_array_append_new(parts, json_pack("{s:s,s:O}", "type", "refusal", "refusal", refusal)) != 0)
		goto fail;
	responses_id(rng, "msg_", id);
	return json_pack("{s:s,s:s,s:s,s:s,s:o}", "type", "message", "id", id, "status", status, "role", "assistant",
			 "content", parts);
fail:
	json_decref(parts);
	return NULL;
}

static json_t *responses_call_item(const json_t *call, struct rng *rng)
{
	json_t *function = json_object_get(call, "function"), *id = json_object_get(call, "id");
	json_t *name = json_object_get(function, "name"), *arguments = json_object_get(function, "arguments");
	char fc[RESPONSES_ID_SIZE];

	responses_id(rng, "fc_", fc);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "function_call", "id", fc,
			 "call_id", json_is_string(id) ? json_string_value(id) : "",
			 "name", json_is_string(name) ? json_string_value(name) : "",
			 "arguments", json_is_string(arguments) ? json_string_value(arguments) : "{}",
			 "status", "completed");
}

/* The output items of choice 0's message. */
static int responses_output(json_t *output, const json_t *message, const char *status, struct rng *rng)
{
	json_t *calls = json_object_get(message, "tool_calls"), *call;
	size_t k;
	bool has_calls = json_is_array(calls) && json_array_size(calls) > 0;
	bool has_text = json_is_string(json_object_get(message, "content")) &&
			json_string_length(json_object_get(message, "content")) > 0;

	/* An answer of tool calls alone has no message item, as from the API;
	 * an empty answer still has one, so output_text is "" and not missing. */
	if ((has_text || json_is_string(json_object_get(message, "refusal")) || !has_calls) &&
	    json_array_append_new(output, responses_message_item(message, status, rng)) != 0)
		return -1;
	json_array_foreach(calls, k, call) {
		if (json_array_append_new(output, responses_call_item(call, rng)) != 0)
			return -1;
	}
	return 0;
}

json_t *responses_answer(const struct responses_meta *m, const char *chat, size_t len, struct rng *rng)
{
	json_t *root = json_loadb(chat, len, 0, NULL), *choice, *message, *model, *response = NULL;
	const char *reason;

	choice = json_array_get(json_object_get(root, "choices"), 0);
	message = json_object_get(choice, "message");
	if (!json_is_object(root) || !json_is_object(message))
		goto fail;
	reason = responses_incomplete_reason(json_object_get(choice, "finish_reason"));
	if ((response = responses_object(m, "in_progress")) == NULL)
		goto fail;
	model = json_object_get(root, "model");
	if ((json_is_string(model) && json_object_set(response, "model", model) != 0) ||
	    responses_status(response, reason) != 0 ||
	    responses_output(json_object_get(response, "output"), message, reason != NULL ? "incomplete" : "completed",
			     rng) != 0 ||
	    json_object_set_new(response, "usage", responses_usage(json_object_get(root, "usage"))) != 0) {
		json_decref(response);
		response = NULL;
	}
fail:
	json_decref(root);
	return response;
}

int responses_answer_bytes(const struct responses_meta *m, const char *chat, size_t len, struct rng *rng,
			   struct buf *out)
{
	json_t *response = responses_answer(m, chat, len, rng);
	char *text = response != NULL ? json_dumps(response, JSON_COMPACT) : NULL;
	int rc = text != NULL ? buf_append_str(out, text) : -1;

	free(text);
	json_decref(response);
	return rc;
}

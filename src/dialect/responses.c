/* responses.c — a Responses API request as a chat completions request, and previous_response_id expanded into a whole input. */
#include "responses.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonwrite.h"

void responses_id(struct rng *rng, const char *prefix, char *out)
{
	size_t n = strlen(prefix);

	/* Prefixes are short constants ("resp_", "msg_", "fc_"). */
	if (n > RESPONSES_ID_SIZE - 49)
		n = RESPONSES_ID_SIZE - 49;
	memcpy(out, prefix, n);
	rng_hex(rng, out + n, 48);
}

/* The translation of one request while it is made. */
struct responses_build {
	json_t *chat;       /* the chat request so far */
	json_t *messages;   /* its messages (borrowed from chat) */
	char *why;
	size_t whylen;
	bool no_memory;     /* the refusal is detour's, not the client's */
};

static int responses_refuse(struct responses_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills why with what cannot be said in chat completions; returns -1. */
static int responses_refuse(struct responses_build *b, const char *fmt, ...)
{
	va_list ap;

	if (b->whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(b->why, b->whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int responses_no_memory(struct responses_build *b)
{
	b->no_memory = true;
	return responses_refuse(b, "out of memory translating the Responses request");
}

static bool responses_str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

static const char *responses_type_name(const json_t *type)
{
	return json_is_string(type) ? json_string_value(type) : "(none)";
}

/* Sets key on the chat request to v (taken); NULL v is out of memory. */
static int responses_set(struct responses_build *b, const char *key, json_t *v)
{
	return json_object_set_new(b->chat, key, v) == 0 ? 0 : responses_no_memory(b);
}

/* Copies key from the request to the chat request under chat_key, when present and not null. */
static int responses_copy(struct responses_build *b, const json_t *request, const char *key, const char *chat_key)
{
	json_t *v = json_object_get(request, key);

	if (v == NULL || json_is_null(v))
		return 0;
	return responses_set(b, chat_key, json_incref(v));
}

static int responses_push(struct responses_build *b, json_t *message)
{
	return json_array_append_new(b->messages, message) == 0 ? 0 : responses_no_memory(b);
}

/* ---- messages ---- */

/* One part of a user, system or developer message as a chat part. */
static json_t *responses_part(struct responses_build *b, size_t i, size_t k, const json_t *part)
{
	json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text"), *url, *made;

	if (responses_str_is(type, "input_text") || responses_str_is(type, "output_text")) {
		if (!json_is_string(text)) {
			responses_refuse(b, "input[%zu].content[%zu].text is not a string", i, k);
			return NULL;
		}
		made = json_pack("{s:s,s:O}", "type", "text", "text", text);
	} else if (responses_str_is(type, "input_image")) {
		url = json_object_get(part, "image_url");
		if (!json_is_string(url)) {
			responses_refuse(b, "input[%zu].content[%zu]: an input_image %s cannot be sent as a chat completion "
					 "(only an image_url can)", i, k,
					 json_object_get(part, "file_id") != NULL ? "with a file_id" : "without an image_url");
			return NULL;
		}
		made = json_pack("{s:s,s:{s:O}}", "type", "image_url", "image_url", "url", url);
		if (made != NULL && json_is_string(json_object_get(part, "detail")) &&
		    json_object_set(json_object_get(made, "image_url"), "detail", json_object_get(part, "detail")) != 0) {
			json_decref(made);
			made = NULL;
		}
	} else {
		responses_refuse(b, "input[%zu].content[%zu]: part type \"%s\" cannot be sent as a chat completion", i, k,
				 responses_type_name(type));
		return NULL;
	}
	if (made == NULL)
		responses_no_memory(b);
	return made;
}

/* An assistant's parts as one string: its own earlier answers, text only. */
static json_t *responses_assistant_text(struct responses_build *b, size_t i, const json_t *content)
{
	json_t *part, *type, *text, *joined = NULL;
	struct buf all;
	size_t k;

	buf_init(&all, 64u * 1024 * 1024);
	json_array_foreach(content, k, part) {
		type = json_object_get(part, "type");
		text = json_object_get(part, responses_str_is(type, "refusal") ? "refusal" : "text");
		if (!(responses_str_is(type, "output_text") || responses_str_is(type, "input_text") ||
		      responses_str_is(type, "refusal")) || !json_is_string(text)) {
			responses_refuse(b, "input[%zu].content[%zu]: an assistant message holds output_text parts only", i, k);
			goto fail;
		}
		if (buf_append(&all, json_string_value(text), json_string_length(text)) != 0) {
			responses_no_memory(b);
			goto fail;
		}
	}
	joined = json_stringn(all.data != NULL ? all.data : "", all.len);
	if (joined == NULL)
		responses_no_memory(b);
fail:
	buf_free(&all);
	return joined;
}

/* The chat content of input[i], a message of role role. */
static json_t *responses_content(struct responses_build *b, size_t i, const char *role, const json_t *content)
{
	json_t *parts, *part, *made;
	size_t k;

	if (json_is_string(content))
		return json_incref((json_t *)content);
	if (!json_is_array(content)) {
		responses_refuse(b, "input[%zu].content is neither a string nor a list of parts", i);
		return NULL;
	}
	if (strcmp(role, "assistant") == 0)
		return responses_assistant_text(b, i, content);
	if ((parts = json_array()) == NULL) {
		responses_no_memory(b);
		return NULL;
	}
	json_array_foreach(content, k, part) {
		if ((made = responses_part(b, i, k, part)) == NULL)
			goto fail;
		if (json_array_append_new(parts, made) != 0) {
			responses_no_memory(b);
			goto fail;
		}
	}
	return parts;
fail:
	json_decref(parts);
	return NULL;
}

static int responses_message(struct responses_build *b, size_t i, const json_t *item)
{
	json_t *role = json_object_get(item, "role"), *content;
	const char *r = json_is_string(role) ? json_string_value(role) : "";

	if (strcmp(r, "user") != 0 && strcmp(r, "system") != 0 && strcmp(r, "developer") != 0 &&
	    strcmp(r, "assistant") != 0)
		return responses_refuse(b, "input[%zu]: role \"%s\" cannot be sent as a chat completion", i,
					json_is_string(role) ? r : "(none)");
	if ((content = responses_content(b, i, r, json_object_get(item, "content"))) == NULL)
		return -1;
	return responses_push(b, json_pack("{s:s,s:o}", "role", r, "content", content));
}

/* A function_call item as a tool call on the assistant turn it belongs to. */
static int responses_function_call(struct responses_build *b, size_t i, const json_t *item)
{
	json_t *call_id = json_object_get(item, "call_id"), *name = json_object_get(item, "name");
	json_t *arguments = json_object_get(item, "arguments"), *call, *last, *calls;
	size_t n = json_array_size(b->messages);

	if (!json_is_string(call_id) || !json_is_string(name))
		return responses_refuse(b, "input[%zu]: a function_call needs a call_id and a name", i);
	/* A call without arguments was made with none: chat wants a string. */
	call = json_pack("{s:O,s:s,s:{s:O,s:o}}", "id", call_id, "type", "function", "function", "name", name,
			 "arguments", json_is_string(arguments) ? json_incref(arguments) : json_string("{}"));
	if (call == NULL)
		return responses_no_memory(b);
	last = n > 0 ? json_array_get(b->messages, n - 1) : NULL;
	if (last == NULL || !responses_str_is(json_object_get(last, "role"), "assistant")) {
		last = json_pack("{s:s,s:n}", "role", "assistant", "content");
		if (responses_push(b, last) != 0) {
			json_decref(call);
			return -1;
		}
	}
	calls = json_object_get(last, "tool_calls");
	if (calls == NULL && json_object_set_new(last, "tool_calls", calls = json_array()) != 0) {
		json_decref(call);
		return responses_no_memory(b);
	}
	return json_array_append_new(calls, call) == 0 ? 0 : responses_no_memory(b);
}

/* A function_call_output's output: a string, or input_text parts joined. */
static json_t *responses_output_text(struct responses_build *b, size_t i, const json_t *output)
{
	json_t *part, *text, *joined;
	struct buf all;
	size_t k;

	if (json_is_string(output))
		return json_incref((json_t *)output);
	if (!json_is_array(output)) {
		responses_refuse(b, "input[%zu].output is neither a string nor a list of parts", i);
		return NULL;
	}
	buf_init(&all, 64u * 1024 * 1024);
	json_array_foreach(output, k, part) {
		text = json_object_get(part, "text");
		if (!responses_str_is(json_object_get(part, "type"), "input_text") || !json_is_string(text)) {
			buf_free(&all);
			responses_refuse(b, "input[%zu].output[%zu]: a tool output holds input_text parts only", i, k);
			return NULL;
		}
		if (buf_append(&all, json_string_value(text), json_string_length(text)) != 0) {
			buf_free(&all);
			responses_no_memory(b);
			return NULL;
		}
	}
	joined = json_stringn(all.data != NULL ? all.data : "", all.len);
	buf_free(&all);
	if (joined == NULL)
		responses_no_memory(b);
	return joined;
}

static int responses_function_output(struct responses_build *b, size_t i, const json_t *item)
{
	json_t *call_id = json_object_get(item, "call_id"), *output;

	if (!json_is_string(call_id))
		return responses_refuse(b, "input[%zu]: a function_call_output needs a call_id", i);
	if ((output = responses_output_text(b, i, json_object_get(item, "output"))) == NULL)
		return -1;
	return responses_push(b, json_pack("{s:s,s:O,s:o}", "role", "tool", "tool_call_id", call_id, "content", output));
}

static int responses_item(struct responses_build *b, size_t i, const json_t *item)
{
	json_t *type = json_object_get(item, "type");

	if (!json_is_object(item))
		return responses_refuse(b, "input[%zu] is not an object", i);
	if (type == NULL || responses_str_is(type, "message"))
		return responses_message(b, i, item);
	if (responses_str_is(type, "function_call"))
		return responses_function_call(b, i, item);
	if (responses_str_is(type, "function_call_output"))
		return responses_function_output(b, i, item);
	if (responses_str_is(type, "reasoning"))
		return 0;
	return responses_refuse(b, "input[%zu]: item type \"%s\" cannot be sent as a chat completion", i,
				responses_type_name(type));
}

static int responses_messages(struct responses_build *b, const json_t *request)
{
	json_t *instructions = json_object_get(request, "instructions"), *input = json_object_get(request, "input");
	json_t *item;
	size_t i;

	if (json_is_string(instructions) && json_string_length(instructions) > 0 &&
	    responses_push(b, json_pack("{s:s,s:O}", "role", "system", "content", instructions)) != 0)
		return -1;
	if (json_is_string(input))
		return responses_push(b, json_pack("{s:s,s:O}", "role", "user", "content", input));
	if (!json_is_array(input))
		return responses_refuse(b, "input is neither a string nor a list of items");
	json_array_foreach(input, i, item) {
		if (responses_item(b, i, item) != 0)
			return -1;
	}
	if (json_array_size(b->messages) == 0)
		return responses_refuse(b, "input holds nothing to send");
	return 0;
}

/* ---- tools ---- */

static json_t *responses_tool(struct responses_build *b, size_t k, const json_t *tool)
{
	json_t *type = json_object_get(tool, "type"), *name = json_object_get(tool, "name"), *function, *v;
	static const char *const copied[] = { "description", "parameters", "strict" };
	size_t j;

	if (!responses_str_is(type, "function")) {
		responses_refuse(b, "tools[%zu]: the built-in tool \"%s\" cannot be used over chat completions", k,
				 responses_type_name(type));
		return NULL;
	}
	if (!json_is_string(name)) {
		responses_refuse(b, "tools[%zu]: a function tool needs a name", k);
		return NULL;
	}
	if ((function = json_pack("{s:O}", "name", name)) == NULL)
		goto no_memory;
	for (j = 0; j < sizeof copied / sizeof copied[0]; j++) {
		v = json_object_get(tool, copied[j]);
		if (v != NULL && !json_is_null(v) && json_object_set(function, copied[j], v) != 0)
			goto no_memory;
	}
	return json_pack("{s:s,s:o}", "type", "function", "function", function);
no_memory:
	json_decref(function);
	responses_no_memory(b);
	return NULL;
}

static int responses_tool_choice(struct responses_build *b, const json_t *choice)
{
	json_t *type = json_object_get(choice, "type"), *name = json_object_get(choice, "name");

	if (choice == NULL || json_is_null(choice))
		return 0;
	if (responses_str_is(choice, "auto") || responses_str_is(choice, "none") || responses_str_is(choice, "required"))
		return responses_set(b, "tool_choice", json_incref((json_t *)choice));
	if (responses_str_is(type, "function") && json_is_string(name))
		return responses_set(b, "tool_choice", json_pack("{s:s,s:{s:O}}", "type", "function", "function", "name", name));
	return responses_refuse(b, "tool_choice of type \"%s\" cannot be used over chat completions",
				json_is_string(choice) ? json_string_value(choice) : responses_type_name(type));
}

static int responses_tools(struct responses_build *b, const json_t *request)
{
	json_t *tools = json_object_get(request, "tools"), *list, *tool, *made;
	size_t k;

	if (tools == NULL || json_is_null(tools) || (json_is_array(tools) && json_array_size(tools) == 0))
		return 0;
	if (!json_is_array(tools))
		return responses_refuse(b, "tools is not a list");
	if ((list = json_array()) == NULL || responses_set(b, "tools", list) != 0)
		return responses_no_memory(b);
	json_array_foreach(tools, k, tool) {
		if ((made = responses_tool(b, k, tool)) == NULL)
			return -1;
		if (json_array_append_new(list, made) != 0)
			return responses_no_memory(b);
	}
	if (responses_copy(b, request, "parallel_tool_calls", "parallel_tool_calls") != 0)
		return -1;
	return responses_tool_choice(b, json_object_get(request, "tool_choice"));
}

/* ---- the rest ---- */

static int responses_format(struct responses_build *b, const json_t *request)
{
	json_t *text = json_object_get(request, "text"), *format = json_object_get(text, "format");
	json_t *type = json_object_get(format, "type"), *schema, *v;
	static const char *const copied[] = { "name", "schema", "strict", "description" };
	size_t j;

	if (responses_copy(b, text, "verbosity", "verbosity") != 0)
		return -1;
	if (format == NULL || json_is_null(format) || responses_str_is(type, "text"))
		return 0;
	if (responses_str_is(type, "json_object"))
		return responses_set(b, "response_format", json_pack("{s:s}", "type", "json_object"));
	if (!responses_str_is(type, "json_schema"))
		return responses_refuse(b, "text.format of type \"%s\" cannot be sent as a chat completion",
					responses_type_name(type));
	if (!json_is_string(json_object_get(format, "name")))
		return responses_refuse(b, "text.format: a json_schema format needs a name");
	if ((schema = json_object()) == NULL)
		return responses_no_memory(b);
	for (j = 0; j < sizeof copied / sizeof copied[0]; j++) {
		v = json_object_get(format, copied[j]);
		if (v != NULL && !json_is_null(v) && json_object_set(schema, copied[j], v) != 0) {
			json_decref(schema);
			return responses_no_memory(b);
		}
	}
	return responses_set(b, "response_format", json_pack("{s:s,s:o}", "type", "json_schema", "json_schema", schema));
}

/* Fields that change what the request means and have no chat form. */
static int responses_unsayable(struct responses_build *b, const json_t *request)
{
	json_t *v;

	if (json_is_true(json_object_get(request, "background")))
		return responses_refuse(b, "background responses cannot be made over chat completions");
	v = json_object_get(request, "prompt");
	if (v != NULL && !json_is_null(v))
		return responses_refuse(b, "prompt (a stored prompt template) cannot be sent as a chat completion");
	v = json_object_get(request, "conversation");
	if (v != NULL && !json_is_null(v))
		return responses_refuse(b, "conversation objects are not kept by detour; use previous_response_id");
	return 0;
}

static int responses_settings(struct responses_build *b, const json_t *request, const struct responses_options *o)
{
	json_t *model = json_object_get(request, "model"), *reasoning = json_object_get(request, "reasoning");
	json_t *effort = json_object_get(reasoning, "effort");
	static const char *const same[] = { "temperature", "top_p", "user", "safety_identifier", "prompt_cache_key",
					    "service_tier" };
	size_t j;

	if (o != NULL && o->model != NULL)
		model = json_string(o->model);
	else if (json_is_string(model))
		json_incref(model);
	else
		return responses_refuse(b, "model is required");
	if (responses_set(b, "model", model) != 0)
		return -1;
	for (j = 0; j < sizeof same / sizeof same[0]; j++) {
		if (responses_copy(b, request, same[j], same[j]) != 0)
			return -1;
	}
	if (json_is_string(effort) && responses_set(b, "reasoning_effort", json_incref(effort)) != 0)
		return -1;
	if (responses_copy(b, request, "max_output_tokens",
			   (o != NULL && o->max_completion_tokens) || json_is_string(effort) ? "max_completion_tokens"
											    : "max_tokens") != 0)
		return -1;
	if (json_is_true(json_object_get(request, "stream")) &&
	    (responses_set(b, "stream", json_true()) != 0 ||
	     responses_set(b, "stream_options", json_pack("{s:b}", "include_usage", 1)) != 0))
		return -1;
	return 0;
}

enum responses_result responses_request(const json_t *request, const struct responses_options *o, struct buf *out,
					char *why, size_t whylen)
{
	struct responses_build b = { .why = why, .whylen = whylen };
	enum responses_result rc = RESPONSES_REFUSED;

	if (whylen > 0)
		why[0] = '\0';
	if (!json_is_object(request)) {
		responses_refuse(&b, "the request is not a JSON object");
		goto fail;
	}
	b.chat = json_object();
	b.messages = json_array();
	if (b.chat == NULL || b.messages == NULL || json_object_set(b.chat, "model", json_null()) != 0 ||
	    json_object_set(b.chat, "messages", b.messages) != 0) {
		responses_no_memory(&b);
		goto fail;
	}
	if (responses_unsayable(&b, request) != 0 || responses_settings(&b, request, o) != 0 ||
	    responses_messages(&b, request) != 0 || responses_tools(&b, request) != 0 || responses_format(&b, request) != 0)
		goto fail;
	if (jsonwrite(out, b.chat) != 0) {
		snprintf(why, whylen, "the chat request does not fit in %zu bytes", out->max);
		b.no_memory = true;
		goto fail;
	}
	rc = RESPONSES_OK;
fail:
	if (rc != RESPONSES_OK && b.no_memory)
		rc = RESPONSES_FAILED;
	json_decref(b.messages);
	json_decref(b.chat);
	return rc;
}

enum responses_result responses_request_bytes(const char *body, size_t len, const struct responses_options *o,
					      struct buf *out, char *why, size_t whylen)
{
	json_error_t e;
	json_t *root = json_loadb(body, len, 0, &e);
	enum responses_result rc;

	if (root == NULL && json_error_code(&e) == json_error_out_of_memory) {
		snprintf(why, whylen, "out of memory reading the Responses request");
		return RESPONSES_FAILED;
	}
	if (root == NULL) {
		snprintf(why, whylen, "the body is not JSON (at byte %d): %s", e.position, e.text);
		return RESPONSES_REFUSED;
	}
	rc = responses_request(root, o, out, why, whylen);
	json_decref(root);
	return rc;
}

/* ---- conversation state ---- */

json_t *responses_input_items(const json_t *request)
{
	json_t *input = json_object_get(request, "input");

	if (json_is_string(input))
		return json_pack("[{s:s,s:s,s:O}]", "type", "message", "role", "user", "content", input);
	return json_is_array(input) ? json_copy((json_t *)input) : NULL;
}

int responses_append_output(json_t *items, const json_t *response)
{
	json_t *output = json_object_get(response, "output"), *item;
	size_t k;

	json_array_foreach(output, k, item) {
		if (responses_str_is(json_object_get(item, "type"), "reasoning") &&
		    !json_is_string(json_object_get(item, "encrypted_content")))
			continue;
		if (json_array_append(items, item) != 0)
			return -1;
	}
	return 0;
}

json_t *responses_continue(const json_t *request, const json_t *previous_input, const json_t *previous_response)
{
	json_t *items = json_is_array(previous_input) ? json_copy((json_t *)previous_input) : NULL;
	json_t *own = responses_input_items(request), *made = NULL;

	if (items == NULL || own == NULL || responses_append_output(items, previous_response) != 0 ||
	    json_array_extend(items, own) != 0)
		goto fail;
	made = json_copy((json_t *)request);
	if (made != NULL && json_object_set(made, "input", items) != 0) {
		json_decref(made);
		made = NULL;
	}
fail:
	json_decref(own);
	json_decref(items);
	return made;
}

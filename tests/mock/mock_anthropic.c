/* mock_anthropic.c — the Anthropic dialect: POST /v1/messages validated as strictly as the real Messages API, answers plain or as SSE events. */
#include "mock_anthropic.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_json.h"

/* What a tool-using answer says before its tool_use block, and the input it passes. */
static const char mock_anthropic_tool_preface[] = "Let me check.";
static const char mock_anthropic_tool_input[] = "{\"city\":\"Paris\"}";
/* The signature every thinking block carries. */
static const char mock_anthropic_signature[] = "mock-signature";

static void mock_anthropic_error_typed(struct mock_answer *a, unsigned status, const char *type, const char *message)
{
	mock_answer_clear(a);
	a->status = status;
	buf_append_str(&a->text, "{\"type\":\"error\",\"error\":{\"type\":");
	mock_json_cstring(&a->text, type);
	buf_append_str(&a->text, ",\"message\":");
	mock_json_cstring(&a->text, message);
	buf_append_str(&a->text, "}}");
}

/* Anthropic's error type for a status. */
static const char *mock_anthropic_error_type(unsigned status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 529: return "overloaded_error";
	default: return status >= 500 ? "api_error" : "invalid_request_error";
	}
}

static void mock_anthropic_error(struct mock_answer *a, unsigned status, const char *message)
{
	mock_anthropic_error_typed(a, status, mock_anthropic_error_type(status), message);
}

static void mock_anthropic_invalid(struct mock_answer *a, const char *message)
{
	mock_anthropic_error_typed(a, 400, "invalid_request_error", message);
}

/* One content block of message index; returns false with the error written. */
static bool mock_anthropic_valid_block(struct mock_answer *a, const json_t *block, size_t index, size_t at)
{
	static const char *const types[] = { "text", "image", "tool_use", "tool_result" };
	const char *type = json_string_value(json_object_get(block, "type"));
	char message[256];
	size_t i;

	if (type == NULL) {
		snprintf(message, sizeof message, "messages.%zu.content.%zu.type: Field required", index, at);
		goto fail;
	}
	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(type, types[i]) == 0)
			break;
	if (i == sizeof types / sizeof types[0]) {
		snprintf(message, sizeof message, "messages.%zu.content.%zu: Input tag '%.64s' found using 'type' does not "
			 "match any of the expected tags: 'text', 'image', 'tool_use', 'tool_result'", index, at, type);
		goto fail;
	}
	if (strcmp(type, "text") == 0 && !json_is_string(json_object_get(block, "text"))) {
		snprintf(message, sizeof message, "messages.%zu.content.%zu.text: Field required", index, at);
		goto fail;
	}
	if (strcmp(type, "tool_result") == 0 && !json_is_string(json_object_get(block, "tool_use_id"))) {
		snprintf(message, sizeof message, "messages.%zu.content.%zu.tool_use_id: Field required", index, at);
		goto fail;
	}
	if (strcmp(type, "tool_use") == 0 && (!json_is_string(json_object_get(block, "id")) ||
					       !json_is_string(json_object_get(block, "name")) ||
					       !json_is_object(json_object_get(block, "input")))) {
		snprintf(message, sizeof message, "messages.%zu.content.%zu: tool_use needs id, name and input", index, at);
		goto fail;
	}
	return true;
fail:
	mock_anthropic_invalid(a, message);
	return false;
}

/* messages: non-empty, user first, strictly alternating, content a string or an array of known blocks. */
static bool mock_anthropic_valid_messages(struct mock_answer *a, const json_t *messages)
{
	const char *previous = "assistant";
	char message[256];
	size_t i, j;

	if (!json_is_array(messages)) {
		mock_anthropic_invalid(a, "messages: Field required");
		return false;
	}
	if (json_array_size(messages) == 0) {
		mock_anthropic_invalid(a, "messages: at least one message is required");
		return false;
	}
	for (i = 0; i < json_array_size(messages); i++) {
		const json_t *m = json_array_get(messages, i);
		const char *role = json_string_value(json_object_get(m, "role"));
		const json_t *content = json_object_get(m, "content");

		if (role != NULL && strcmp(role, "system") == 0) {
			snprintf(message, sizeof message, "messages.%zu.role: Unexpected role \"system\". The Messages API "
				 "accepts a top-level `system` parameter, not \"system\" as an input message role.", i);
			goto fail;
		}
		if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
			snprintf(message, sizeof message, "messages.%zu.role: Input should be 'user' or 'assistant'", i);
			goto fail;
		}
		if (i == 0 && strcmp(role, "user") != 0) {
			snprintf(message, sizeof message, "messages: first message must use the \"user\" role");
			goto fail;
		}
		if (strcmp(role, previous) == 0) {
			snprintf(message, sizeof message, "messages: roles must alternate between \"user\" and \"assistant\", "
				 "but found multiple \"%s\" roles in a row", role);
			goto fail;
		}
		previous = role;
		if (json_is_string(content))
			continue;
		if (!json_is_array(content)) {
			snprintf(message, sizeof message, "messages.%zu.content: Input should be a valid string or a list of content blocks", i);
			goto fail;
		}
		for (j = 0; j < json_array_size(content); j++)
			if (!mock_anthropic_valid_block(a, json_array_get(content, j), i, j))
				return false;
	}
	return true;
fail:
	mock_anthropic_invalid(a, message);
	return false;
}

/* The whole body, field by field, in the order the real API reports them. */
static bool mock_anthropic_valid(struct mock_answer *a, const json_t *req)
{
	const json_t *max_tokens = json_object_get(req, "max_tokens");
	const json_t *system = json_object_get(req, "system");
	const json_t *tools = json_object_get(req, "tools");
	const json_t *stream = json_object_get(req, "stream");
	char message[128];
	size_t i;

	if (!json_is_string(json_object_get(req, "model"))) {
		mock_anthropic_invalid(a, "model: Field required");
		return false;
	}
	if (max_tokens == NULL) {
		mock_anthropic_invalid(a, "max_tokens: Field required");
		return false;
	}
	if (!json_is_integer(max_tokens)) {
		mock_anthropic_invalid(a, "max_tokens: Input should be a valid integer");
		return false;
	}
	if (json_integer_value(max_tokens) < 1) {
		mock_anthropic_invalid(a, "max_tokens: Input should be greater than or equal to 1");
		return false;
	}
	if (!mock_anthropic_valid_messages(a, json_object_get(req, "messages")))
		return false;
	if (system != NULL && !json_is_string(system)) {
		bool blocks = json_is_array(system);

		for (i = 0; blocks && i < json_array_size(system); i++) {
			const json_t *block = json_array_get(system, i);
			const char *type = json_string_value(json_object_get(block, "type"));

			blocks = type && strcmp(type, "text") == 0 && json_is_string(json_object_get(block, "text"));
		}
		if (!blocks) {
			mock_anthropic_invalid(a, "system: Input should be a valid string or a list of text blocks");
			return false;
		}
	}
	if (stream != NULL && !json_is_boolean(stream)) {
		mock_anthropic_invalid(a, "stream: Input should be a valid boolean");
		return false;
	}
	if (tools != NULL && !json_is_array(tools)) {
		mock_anthropic_invalid(a, "tools: Input should be a valid list");
		return false;
	}
	for (i = 0; i < json_array_size(tools); i++) {
		if (!json_is_string(json_object_get(json_array_get(tools, i), "name"))) {
			snprintf(message, sizeof message, "tools.%zu.name: Field required", i);
			mock_anthropic_invalid(a, message);
			return false;
		}
	}
	return true;
}

/*
 * The tool an answer calls, as the real API picks it: tool_choice "none" calls
 * none; "tool" forces the named one, "any" the first; otherwise (auto) the
 * first, unless the last message carries a tool_result to answer. A forced
 * call's input is built from its input_schema, and no text comes before it.
 */
struct mock_anthropic_call {
	const char *name;     /* NULL: answer with text */
	bool forced;
	char *input;          /* the tool_use input as JSON text, owned */
};

static bool mock_anthropic_has_tool_result(const json_t *req)
{
	const json_t *messages = json_object_get(req, "messages");
	const json_t *content = json_object_get(json_array_get(messages, json_array_size(messages) - 1), "content");
	const char *type;
	size_t i;

	for (i = 0; i < json_array_size(content); i++) {
		type = json_string_value(json_object_get(json_array_get(content, i), "type"));
		if (type != NULL && strcmp(type, "tool_result") == 0)
			return true;
	}
	return false;
}

/* Fills call from req's tools and tool_choice; returns -1 without memory. */
static int mock_anthropic_pick(struct mock_anthropic_call *call, const json_t *req)
{
	const json_t *tools = json_object_get(req, "tools");
	const json_t *choice = json_object_get(req, "tool_choice");
	const char *kind = json_string_value(json_object_get(choice, "type"));
	const char *wanted = json_string_value(json_object_get(choice, "name"));
	const json_t *tool = NULL;
	json_t *input;
	size_t i;

	*call = (struct mock_anthropic_call){ 0 };
	if (json_array_size(tools) == 0 || (kind != NULL && strcmp(kind, "none") == 0))
		return 0;
	call->forced = kind != NULL && (strcmp(kind, "tool") == 0 || strcmp(kind, "any") == 0);
	if (!call->forced && mock_anthropic_has_tool_result(req))
		return 0;
	tool = json_array_get(tools, 0);
	for (i = 0; wanted != NULL && call->forced && strcmp(kind, "tool") == 0 && i < json_array_size(tools); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(tools, i), "name")), wanted) == 0)
			tool = json_array_get(tools, i);
	call->name = json_string_value(json_object_get(tool, "name"));
	if (!call->forced) {
		call->input = strdup(mock_anthropic_tool_input);
		return call->input ? 0 : -1;
	}
	input = mock_json_example(json_object_get(tool, "input_schema"), json_object_get(tool, "input_schema"));
	if (input != NULL && !json_is_object(input)) {
		json_decref(input);
		input = json_object();   /* a tool's input is always an object */
	}
	call->input = input ? json_dumps(input, JSON_COMPACT) : NULL;
	json_decref(input);
	return call->input ? 0 : -1;
}

/* ,"usage":{...} with the cache counts when the faults set them. */
static void mock_anthropic_usage(struct buf *b, size_t input, size_t output, const struct mock_reply *r)
{
	buf_printf(b, "\"usage\":{\"input_tokens\":%zu,\"output_tokens\":%zu", input, output);
	if (r->cache_read > 0 || r->cache_creation > 0)
		buf_printf(b, ",\"cache_creation_input_tokens\":%lld,\"cache_read_input_tokens\":%lld",
				r->cache_creation, r->cache_read);
	buf_append_str(b, "}");
}

static void mock_anthropic_plain(struct mock_answer *a, const char *model, const struct mock_anthropic_call *tool,
				 size_t input, size_t output, const struct mock_reply *r)
{
	struct buf *b = &a->text;
	const char *sep = "";
	size_t i;

	buf_printf(b, "{\"id\":\"msg_mock_%llu\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", r->seq);
	mock_json_cstring(b, model);
	buf_append_str(b, ",\"content\":[");
	if (r->thinking != NULL) {
		buf_append_str(b, "{\"type\":\"thinking\",\"thinking\":");
		mock_json_cstring(b, r->thinking);
		buf_printf(b, ",\"signature\":\"%s\"}", mock_anthropic_signature);
		sep = ",";
	}
	if (tool->name == NULL || !tool->forced) {
		buf_printf(b, "%s{\"type\":\"text\",\"text\":", sep);
		mock_json_cstring(b, tool->name ? mock_anthropic_tool_preface : r->content);
		buf_append_str(b, "}");
		sep = ",";
	}
	for (i = 1; tool->name != NULL && i <= r->tool_calls; i++) {
		buf_printf(b, "%s{\"type\":\"tool_use\",\"id\":\"toolu_mock_%zu\",\"name\":", sep, i);
		mock_json_cstring(b, tool->name);
		buf_printf(b, ",\"input\":%s}", tool->input);
		sep = ",";
	}
	buf_printf(b, "],\"stop_reason\":\"%s\",\"stop_sequence\":null,", tool->name ? "tool_use" : "end_turn");
	mock_anthropic_usage(b, input, output, r);
	buf_append_str(b, "}");
}

/* Starts `event: NAME\ndata: `; returns where the event starts in a->text. */
static size_t mock_anthropic_event_open(struct mock_answer *a, const char *name)
{
	size_t at = a->text.len;

	buf_printf(&a->text, "event: %s\ndata: ", name);
	return at;
}

enum mock_anthropic_block {
	MOCK_ANTHROPIC_TEXT,
	MOCK_ANTHROPIC_THINKING,
	MOCK_ANTHROPIC_TOOL,
};

/*
 * One content block streamed: its start, its deltas (text cut in parts pieces),
 * a thinking block's signature, its stop. Block 0's start is part of the
 * opening (a ping follows it); a later block's start is a frame event.
 */
static void mock_anthropic_stream_block(struct mock_answer *a, size_t index, enum mock_anthropic_block kind,
					const char *tool, size_t tool_number, const char *text, size_t parts)
{
	static const char *const deltas[][2] = {
		[MOCK_ANTHROPIC_TEXT] = { "text_delta", "text" },
		[MOCK_ANTHROPIC_THINKING] = { "thinking_delta", "thinking" },
		[MOCK_ANTHROPIC_TOOL] = { "input_json_delta", "partial_json" },
	};
	struct mock_answer_split split;
	size_t at, off, n;

	at = mock_anthropic_event_open(a, "content_block_start");
	buf_printf(&a->text, "{\"type\":\"content_block_start\",\"index\":%zu,\"content_block\":", index);
	if (kind == MOCK_ANTHROPIC_TOOL) {
		buf_printf(&a->text, "{\"type\":\"tool_use\",\"id\":\"toolu_mock_%zu\",\"name\":", tool_number);
		mock_json_cstring(&a->text, tool);
		buf_append_str(&a->text, ",\"input\":{}}}\n\n");
	} else if (kind == MOCK_ANTHROPIC_THINKING) {
		buf_append_str(&a->text, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n");
	} else {
		buf_append_str(&a->text, "{\"type\":\"text\",\"text\":\"\"}}\n\n");
	}
	mock_answer_event(a, at, index == 0 ? MOCK_EVENT_PREAMBLE : MOCK_EVENT_FRAME);
	if (index == 0) {
		at = mock_anthropic_event_open(a, "ping");
		buf_append_str(&a->text, "{\"type\":\"ping\"}\n\n");
		mock_answer_event(a, at, MOCK_EVENT_PREAMBLE);
	}
	mock_answer_split_init(&split, text, strlen(text), parts);
	while (mock_answer_split_next(&split, &off, &n)) {
		at = mock_anthropic_event_open(a, "content_block_delta");
		buf_printf(&a->text, "{\"type\":\"content_block_delta\",\"index\":%zu,\"delta\":{\"type\":\"%s\",\"%s\":",
				index, deltas[kind][0], deltas[kind][1]);
		mock_json_string(&a->text, text + off, n);
		buf_append_str(&a->text, "}}\n\n");
		mock_answer_event(a, at, MOCK_EVENT_CONTENT);
	}
	if (kind == MOCK_ANTHROPIC_THINKING) {
		at = mock_anthropic_event_open(a, "content_block_delta");
		buf_printf(&a->text, "{\"type\":\"content_block_delta\",\"index\":%zu,\"delta\":{\"type\":\"signature_delta\","
				"\"signature\":\"%s\"}}\n\n", index, mock_anthropic_signature);
		mock_answer_event(a, at, MOCK_EVENT_FRAME);
	}
	at = mock_anthropic_event_open(a, "content_block_stop");
	buf_printf(&a->text, "{\"type\":\"content_block_stop\",\"index\":%zu}\n\n", index);
	mock_answer_event(a, at, MOCK_EVENT_FRAME);
}

static void mock_anthropic_stream(struct mock_answer *a, const char *model, const struct mock_anthropic_call *tool,
				  size_t input, size_t output, const struct mock_reply *r)
{
	size_t index = 0;
	size_t at, i;

	a->stream = true;
	a->content_type = "text/event-stream";
	at = mock_anthropic_event_open(a, "message_start");
	buf_printf(&a->text, "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock_%llu\",\"type\":\"message\","
			"\"role\":\"assistant\",\"model\":", r->seq);
	mock_json_cstring(&a->text, model);
	buf_append_str(&a->text, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,");
	mock_anthropic_usage(&a->text, input, 1, r);
	buf_append_str(&a->text, "}}\n\n");
	mock_answer_event(a, at, MOCK_EVENT_PREAMBLE);

	if (r->thinking != NULL)
		mock_anthropic_stream_block(a, index++, MOCK_ANTHROPIC_THINKING, NULL, 0, r->thinking, r->chunks);
	if (tool->name == NULL || !tool->forced)
		mock_anthropic_stream_block(a, index++, MOCK_ANTHROPIC_TEXT, NULL, 0,
					    tool->name ? mock_anthropic_tool_preface : r->content, r->chunks);
	for (i = 1; tool->name != NULL && i <= r->tool_calls; i++)
		mock_anthropic_stream_block(a, index++, MOCK_ANTHROPIC_TOOL, tool->name, i, tool->input,
					    r->chunks < 2 ? 2 : r->chunks);

	at = mock_anthropic_event_open(a, "message_delta");
	buf_printf(&a->text, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},"
			"\"usage\":{\"output_tokens\":%zu}}\n\n", tool->name ? "tool_use" : "end_turn", output);
	mock_answer_event(a, at, MOCK_EVENT_FRAME);
	at = mock_anthropic_event_open(a, "message_stop");
	buf_append_str(&a->text, "{\"type\":\"message_stop\"}\n\n");
	mock_answer_event(a, at, MOCK_EVENT_FRAME);

	at = mock_anthropic_event_open(a, "error");
	buf_append_str(&a->text, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
	mock_answer_spare(a, &a->error_event, at);
	at = mock_anthropic_event_open(a, "content_block_delta");
	buf_append_str(&a->text, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_del\n\n");
	mock_answer_spare(a, &a->malformed_event, at);
}

static void mock_anthropic_messages(struct mock_answer *a, const struct mock_call *call, const struct mock_reply *r)
{
	struct mock_anthropic_call tool = { 0 };
	char message[256];
	const char *model;
	size_t input, output;
	json_t *req;

	if (call->anthropic_version == NULL) {
		mock_anthropic_invalid(a, "anthropic-version: header is required");
		return;
	}
	req = mock_json_parse(call->body, call->body_len, message, sizeof message);
	if (req == NULL) {
		mock_anthropic_invalid(a, message);
		return;
	}
	if (!json_is_object(req)) {
		mock_anthropic_invalid(a, "the request body must be a JSON object");
		goto done;
	}
	if (!mock_anthropic_valid(a, req))
		goto done;
	if (mock_anthropic_pick(&tool, req) < 0) {
		mock_anthropic_error(a, 500, "detour-mock: out of memory");
		goto done;
	}
	model = json_string_value(json_object_get(req, "model"));
	input = (mock_json_text_bytes(json_object_get(req, "messages")) +
		 mock_json_text_bytes(json_object_get(req, "system"))) / 4 + 1;
	output = tool.name ? 12 * r->tool_calls : mock_answer_words(r->content);
	if (json_is_true(json_object_get(req, "stream")))
		mock_anthropic_stream(a, model, &tool, input, output, r);
	else
		mock_anthropic_plain(a, model, &tool, input, output, r);
done:
	free(tool.input);
	json_decref(req);
}

static void mock_anthropic_models(struct mock_answer *a, const struct mock_reply *r)
{
	size_t i;

	buf_append_str(&a->text, "{\"data\":[");
	for (i = 0; i < r->n_models; i++) {
		buf_append_str(&a->text, i ? ",{\"type\":\"model\",\"id\":" : "{\"type\":\"model\",\"id\":");
		mock_json_cstring(&a->text, r->models[i]);
		buf_append_str(&a->text, ",\"display_name\":");
		mock_json_cstring(&a->text, r->models[i]);
		buf_append_str(&a->text, ",\"created_at\":\"2024-01-01T00:00:00Z\"}");
	}
	buf_append_str(&a->text, "],\"has_more\":false,\"first_id\":");
	mock_json_cstring(&a->text, r->n_models ? r->models[0] : NULL);
	buf_append_str(&a->text, ",\"last_id\":");
	mock_json_cstring(&a->text, r->n_models ? r->models[r->n_models - 1] : NULL);
	buf_append_str(&a->text, "}");
}

static void mock_anthropic_answer(struct mock_answer *a, const struct mock_call *call, const struct mock_reply *r)
{
	bool messages = strcmp(call->path, "/v1/messages") == 0;
	bool models = strcmp(call->path, "/v1/models") == 0;
	char message[512];

	if (r->api_key != NULL && (call->x_api_key == NULL || strcmp(call->x_api_key, r->api_key) != 0)) {
		mock_anthropic_error_typed(a, 401, "authentication_error", "invalid x-api-key");
		return;
	}
	if (!messages && !models) {
		snprintf(message, sizeof message, "Not found: %s %.400s", call->method, call->path);
		mock_anthropic_error_typed(a, 404, "not_found_error", message);
		return;
	}
	if (strcmp(call->method, messages ? "POST" : "GET") != 0) {
		snprintf(message, sizeof message, "Method %s not allowed for %s", call->method, call->path);
		mock_anthropic_error_typed(a, 405, "invalid_request_error", message);
		return;
	}
	if (messages)
		mock_anthropic_messages(a, call, r);
	else
		mock_anthropic_models(a, r);
}

const struct mock_dialect mock_anthropic_dialect = {
	.answer = mock_anthropic_answer,
	.error = mock_anthropic_error,
};

/* mock_anthropic.c — the Anthropic dialect: POST /v1/messages validated as strictly as the real Messages API, answers plain or as SSE events. */
#include "mock_anthropic.h"

#include <stdio.h>
#include <string.h>

#include "mock_json.h"

/* What a tool-using answer says before its tool_use block, and the input it passes. */
static const char mock_anthropic_tool_preface[] = "Let me check.";
static const char mock_anthropic_tool_input[] = "{\"city\":\"Paris\"}";

static void mock_anthropic_error_typed(struct mock_answer *a, unsigned status, const char *type, const char *message)
{
	mock_answer_clear(a);
	a->status = status;
	mock_buf_puts(&a->text, "{\"type\":\"error\",\"error\":{\"type\":");
	mock_json_cstring(&a->text, type);
	mock_buf_puts(&a->text, ",\"message\":");
	mock_json_cstring(&a->text, message);
	mock_buf_puts(&a->text, "}}");
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

/* The first tool's name when the answer should be a tool_use: tools given and no tool_result in the last message. */
static const char *mock_anthropic_tool(const json_t *req)
{
	const json_t *tools = json_object_get(req, "tools");
	const json_t *messages = json_object_get(req, "messages");
	const json_t *content = json_object_get(json_array_get(messages, json_array_size(messages) - 1), "content");
	const char *type;
	size_t i;

	if (json_array_size(tools) == 0)
		return NULL;
	for (i = 0; i < json_array_size(content); i++) {
		type = json_string_value(json_object_get(json_array_get(content, i), "type"));
		if (type != NULL && strcmp(type, "tool_result") == 0)
			return NULL;
	}
	return json_string_value(json_object_get(json_array_get(tools, 0), "name"));
}

static void mock_anthropic_plain(struct mock_answer *a, const char *model, const char *tool,
				 size_t input, size_t output, const struct mock_reply *r)
{
	struct mock_buf *b = &a->text;

	mock_buf_printf(b, "{\"id\":\"msg_mock_%llu\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", r->seq);
	mock_json_cstring(b, model);
	mock_buf_puts(b, ",\"content\":[{\"type\":\"text\",\"text\":");
	if (tool != NULL) {
		mock_json_cstring(b, mock_anthropic_tool_preface);
		mock_buf_puts(b, "},{\"type\":\"tool_use\",\"id\":\"toolu_mock_1\",\"name\":");
		mock_json_cstring(b, tool);
		mock_buf_printf(b, ",\"input\":%s}],\"stop_reason\":\"tool_use\"", mock_anthropic_tool_input);
	} else {
		mock_json_cstring(b, r->content);
		mock_buf_puts(b, "}],\"stop_reason\":\"end_turn\"");
	}
	mock_buf_printf(b, ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":%zu,\"output_tokens\":%zu}}", input, output);
}

/* Starts `event: NAME\ndata: `; returns where the event starts in a->text. */
static size_t mock_anthropic_event_open(struct mock_answer *a, const char *name)
{
	size_t at = a->text.len;

	mock_buf_printf(&a->text, "event: %s\ndata: ", name);
	return at;
}

/* One content block streamed: its start, its deltas (at least min_parts of them), its stop. */
static void mock_anthropic_stream_block(struct mock_answer *a, size_t index, const char *tool,
					const char *text, size_t parts, enum mock_event_kind start_kind)
{
	struct mock_answer_split split;
	size_t at, off, n;

	at = mock_anthropic_event_open(a, "content_block_start");
	mock_buf_printf(&a->text, "{\"type\":\"content_block_start\",\"index\":%zu,\"content_block\":", index);
	if (tool != NULL) {
		mock_buf_puts(&a->text, "{\"type\":\"tool_use\",\"id\":\"toolu_mock_1\",\"name\":");
		mock_json_cstring(&a->text, tool);
		mock_buf_puts(&a->text, ",\"input\":{}}}\n\n");
	} else {
		mock_buf_puts(&a->text, "{\"type\":\"text\",\"text\":\"\"}}\n\n");
	}
	mock_answer_event(a, at, start_kind);
	if (index == 0) {
		at = mock_anthropic_event_open(a, "ping");
		mock_buf_puts(&a->text, "{\"type\":\"ping\"}\n\n");
		mock_answer_event(a, at, MOCK_EVENT_PREAMBLE);
	}
	mock_answer_split_init(&split, text, strlen(text), parts);
	while (mock_answer_split_next(&split, &off, &n)) {
		at = mock_anthropic_event_open(a, "content_block_delta");
		mock_buf_printf(&a->text, "{\"type\":\"content_block_delta\",\"index\":%zu,\"delta\":{\"type\":\"%s\",\"%s\":",
				index, tool ? "input_json_delta" : "text_delta", tool ? "partial_json" : "text");
		mock_json_string(&a->text, text + off, n);
		mock_buf_puts(&a->text, "}}\n\n");
		mock_answer_event(a, at, MOCK_EVENT_CONTENT);
	}
	at = mock_anthropic_event_open(a, "content_block_stop");
	mock_buf_printf(&a->text, "{\"type\":\"content_block_stop\",\"index\":%zu}\n\n", index);
	mock_answer_event(a, at, MOCK_EVENT_FRAME);
}

static void mock_anthropic_stream(struct mock_answer *a, const char *model, const char *tool,
				  size_t input, size_t output, const struct mock_reply *r)
{
	size_t at;

	a->stream = true;
	a->content_type = "text/event-stream";
	at = mock_anthropic_event_open(a, "message_start");
	mock_buf_printf(&a->text, "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock_%llu\",\"type\":\"message\","
			"\"role\":\"assistant\",\"model\":", r->seq);
	mock_json_cstring(&a->text, model);
	mock_buf_printf(&a->text, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
			"\"usage\":{\"input_tokens\":%zu,\"output_tokens\":1}}}\n\n", input);
	mock_answer_event(a, at, MOCK_EVENT_PREAMBLE);

	mock_anthropic_stream_block(a, 0, NULL, tool ? mock_anthropic_tool_preface : r->content, r->chunks,
				    MOCK_EVENT_PREAMBLE);
	if (tool != NULL)
		mock_anthropic_stream_block(a, 1, tool, mock_anthropic_tool_input, r->chunks < 2 ? 2 : r->chunks,
					    MOCK_EVENT_FRAME);

	at = mock_anthropic_event_open(a, "message_delta");
	mock_buf_printf(&a->text, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},"
			"\"usage\":{\"output_tokens\":%zu}}\n\n", tool ? "tool_use" : "end_turn", output);
	mock_answer_event(a, at, MOCK_EVENT_FRAME);
	at = mock_anthropic_event_open(a, "message_stop");
	mock_buf_puts(&a->text, "{\"type\":\"message_stop\"}\n\n");
	mock_answer_event(a, at, MOCK_EVENT_FRAME);

	at = mock_anthropic_event_open(a, "error");
	mock_buf_puts(&a->text, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
	mock_answer_spare(a, &a->error_event, at);
	at = mock_anthropic_event_open(a, "content_block_delta");
	mock_buf_puts(&a->text, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_del\n\n");
	mock_answer_spare(a, &a->malformed_event, at);
}

static void mock_anthropic_messages(struct mock_answer *a, const struct mock_call *call, const struct mock_reply *r)
{
	char message[256];
	const char *model;
	const char *tool;
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
	model = json_string_value(json_object_get(req, "model"));
	tool = mock_anthropic_tool(req);
	input = (mock_json_text_bytes(json_object_get(req, "messages")) +
		 mock_json_text_bytes(json_object_get(req, "system"))) / 4 + 1;
	output = tool ? 12 : mock_answer_words(r->content);
	if (json_is_true(json_object_get(req, "stream")))
		mock_anthropic_stream(a, model, tool, input, output, r);
	else
		mock_anthropic_plain(a, model, tool, input, output, r);
done:
	json_decref(req);
}

static void mock_anthropic_models(struct mock_answer *a, const struct mock_reply *r)
{
	size_t i;

	mock_buf_puts(&a->text, "{\"data\":[");
	for (i = 0; i < r->n_models; i++) {
		mock_buf_puts(&a->text, i ? ",{\"type\":\"model\",\"id\":" : "{\"type\":\"model\",\"id\":");
		mock_json_cstring(&a->text, r->models[i]);
		mock_buf_puts(&a->text, ",\"display_name\":");
		mock_json_cstring(&a->text, r->models[i]);
		mock_buf_puts(&a->text, ",\"created_at\":\"2024-01-01T00:00:00Z\"}");
	}
	mock_buf_puts(&a->text, "],\"has_more\":false,\"first_id\":");
	mock_json_cstring(&a->text, r->n_models ? r->models[0] : NULL);
	mock_buf_puts(&a->text, ",\"last_id\":");
	mock_json_cstring(&a->text, r->n_models ? r->models[r->n_models - 1] : NULL);
	mock_buf_puts(&a->text, "}");
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

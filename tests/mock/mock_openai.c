/* mock_openai.c — the OpenAI dialect: routes /v1 calls and writes chat, completion, embedding and model answers, plain or as SSE events. */
#include "mock_openai.h"
#include "mock_responses.h"

#include <stdio.h>
#include <string.h>

#include "mock_json.h"

/* The arguments every mock tool call carries; streamed in at least two pieces. */
static const char mock_openai_tool_arguments[] = "{\"city\":\"Paris\"}";

static void mock_openai_error_full(struct mock_answer *a, unsigned status, const char *message,
				   const char *type, const char *param, const char *code)
{
	mock_answer_clear(a);
	a->status = status;
	buf_append_str(&a->text, "{\"error\":{\"message\":");
	mock_json_cstring(&a->text, message);
	buf_append_str(&a->text, ",\"type\":");
	mock_json_cstring(&a->text, type);
	buf_append_str(&a->text, ",\"param\":");
	mock_json_cstring(&a->text, param);
	buf_append_str(&a->text, ",\"code\":");
	mock_json_cstring(&a->text, code);
	buf_append_str(&a->text, "}}");
}

/* The error shape OpenAI uses for each status class. */
static void mock_openai_error(struct mock_answer *a, unsigned status, const char *message)
{
	const char *type = "invalid_request_error";
	const char *code = NULL;

	if (status == 429) {
		type = "rate_limit_exceeded";
		code = "rate_limit_exceeded";
	} else if (status >= 500) {
		type = "server_error";
	} else if (status == 401) {
		code = "invalid_api_key";
	} else if (status == 403) {
		type = "permission_error";
	} else if (status == 404) {
		code = "not_found";
	}
	mock_openai_error_full(a, status, message, type, NULL, code);
}

static void mock_openai_invalid(struct mock_answer *a, const char *message, const char *param)
{
	mock_openai_error_full(a, 400, message, "invalid_request_error", param, NULL);
}

static void mock_openai_usage(struct buf *b, size_t prompt, size_t completion)
{
	buf_printf(b, "\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,\"total_tokens\":%zu}",
			prompt, completion, prompt + completion);
}

/* `{"id":ID,"object":OBJECT,"created":T,"model":M` — the start every answer and event of one exchange shares. */
static void mock_openai_head(struct buf *b, const char *id_prefix, const char *object,
			     const char *model, const struct mock_reply *r)
{
	buf_printf(b, "{\"id\":\"%s%llu\",\"object\":\"%s\",\"created\":%lld,\"model\":",
			id_prefix, r->seq, object, r->created);
	mock_json_cstring(b, model);
}

/* Starts an event: "data: " and the shared head. Returns where the event starts in a->text. */
static size_t mock_openai_event_open(struct mock_answer *a, const struct buf *head)
{
	size_t at = a->text.len;

	buf_append_str(&a->text, "data: ");
	buf_append(&a->text, head->data, head->len);
	return at;
}

/* The events that close every OpenAI stream (a usage chunk when asked, then [DONE]) and the two spare events. */
static void mock_openai_stream_end(struct mock_answer *a, const struct buf *head, const char *broken,
				   bool usage, size_t prompt, size_t completion, const struct mock_reply *r)
{
	struct buf message;
	size_t at;

	if (usage) {
		at = mock_openai_event_open(a, head);
		buf_append_str(&a->text, ",\"choices\":[],");
		mock_openai_usage(&a->text, prompt, completion);
		buf_append_str(&a->text, "}\n\n");
		mock_answer_event(a, at, MOCK_EVENT_FRAME);
	}
	at = a->text.len;
	buf_append_str(&a->text, "data: [DONE]\n\n");
	mock_answer_event(a, at, MOCK_EVENT_FRAME);

	buf_init(&message, MOCK_ANSWER_MAX);
	buf_printf(&message, "detour-mock %s: injected stream error", r->name);
	at = a->text.len;
	buf_append_str(&a->text, "data: {\"error\":{\"message\":");
	mock_json_string(&a->text, message.data ? message.data : "", message.len);
	buf_append_str(&a->text, ",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n");
	mock_answer_spare(a, &a->error_event, at);
	buf_free(&message);

	at = mock_openai_event_open(a, head);
	buf_append_str(&a->text, broken);
	mock_answer_spare(a, &a->malformed_event, at);
}

/* The role of the last message, or "" */
static const char *mock_openai_last_role(const json_t *messages)
{
	const char *role = json_string_value(json_object_get(json_array_get(messages, json_array_size(messages) - 1), "role"));

	return role ? role : "";
}

/* The first tool's name when the answer should be a tool call: tools given and no tool result to answer yet. */
static const char *mock_openai_tool(const json_t *req, const json_t *messages)
{
	const json_t *tools = json_object_get(req, "tools");
	const char *name;

	if (!json_is_array(tools) || json_array_size(tools) == 0 || strcmp(mock_openai_last_role(messages), "tool") == 0)
		return NULL;
	name = json_string_value(json_object_get(json_object_get(json_array_get(tools, 0), "function"), "name"));
	return name ? name : "tool";
}

static void mock_openai_chat_plain(struct mock_answer *a, const char *model, const char *tool,
				   size_t prompt, size_t completion, const struct mock_reply *r)
{
	struct buf *b = &a->text;

	mock_openai_head(b, "chatcmpl-mock-", "chat.completion", model, r);
	buf_append_str(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
	if (tool != NULL) {
		buf_append_str(b, "null,\"tool_calls\":[{\"id\":\"call_mock_1\",\"type\":\"function\",\"function\":{\"name\":");
		mock_json_cstring(b, tool);
		buf_append_str(b, ",\"arguments\":");
		mock_json_cstring(b, mock_openai_tool_arguments);
		buf_append_str(b, "}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],");
	} else {
		mock_json_cstring(b, r->content);
		buf_append_str(b, "},\"logprobs\":null,\"finish_reason\":\"stop\"}],");
	}
	mock_openai_usage(b, prompt, completion);
	buf_append_str(b, "}");
}

static void mock_openai_chat_stream(struct mock_answer *a, const char *model, const char *tool, bool usage,
				    size_t prompt, size_t completion, const struct mock_reply *r)
{
	const char *text = tool ? mock_openai_tool_arguments : r->content;
	size_t parts = tool && r->chunks < 2 ? 2 : r->chunks;
	struct buf head;
	struct mock_answer_split split;
	size_t at, off, n;

	a->stream = true;
	a->content_type = "text/event-stream";
	buf_init(&head, MOCK_ANSWER_MAX);
	mock_openai_head(&head, "chatcmpl-mock-", "chat.completion.chunk", model, r);
	a->text.failed |= head.failed;

	at = mock_openai_event_open(a, &head);
	if (tool != NULL) {
		buf_append_str(&a->text, ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
			      "\"tool_calls\":[{\"index\":0,\"id\":\"call_mock_1\",\"type\":\"function\",\"function\":{\"name\":");
		mock_json_cstring(&a->text, tool);
		buf_append_str(&a->text, ",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
	} else {
		buf_append_str(&a->text, ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
			      "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
	}
	mock_answer_event(a, at, MOCK_EVENT_PREAMBLE);

	mock_answer_split_init(&split, text, strlen(text), parts);
	while (mock_answer_split_next(&split, &off, &n)) {
		at = mock_openai_event_open(a, &head);
		buf_append_str(&a->text, tool ? ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
					     : ",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
		mock_json_string(&a->text, text + off, n);
		buf_append_str(&a->text, tool ? "}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
					     : "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
		mock_answer_event(a, at, MOCK_EVENT_CONTENT);
	}

	at = mock_openai_event_open(a, &head);
	buf_printf(&a->text, ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}]}\n\n",
			tool ? "tool_calls" : "stop");
	mock_answer_event(a, at, MOCK_EVENT_FRAME);

	mock_openai_stream_end(a, &head, ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\n\n",
			       usage, prompt, completion, r);
	buf_free(&head);
}

/* True when stream_options.include_usage asks for a usage chunk. */
static bool mock_openai_wants_usage(const json_t *req)
{
	return json_is_true(json_object_get(json_object_get(req, "stream_options"), "include_usage"));
}

static void mock_openai_chat(struct mock_answer *a, const json_t *req, const struct mock_reply *r)
{
	const json_t *model = json_object_get(req, "model");
	const json_t *messages = json_object_get(req, "messages");
	const char *tool;
	size_t prompt, completion, i;

	if (!json_is_string(model)) {
		mock_openai_invalid(a, "you must provide a model parameter", "model");
		return;
	}
	if (!json_is_array(messages)) {
		mock_openai_invalid(a, "'messages' is a required property", "messages");
		return;
	}
	if (json_array_size(messages) == 0) {
		mock_openai_invalid(a, "[] is too short - 'messages'", "messages");
		return;
	}
	for (i = 0; i < json_array_size(messages); i++) {
		if (!json_is_string(json_object_get(json_array_get(messages, i), "role"))) {
			mock_openai_invalid(a, "every message must be an object with a string 'role'", "messages");
			return;
		}
	}
	tool = mock_openai_tool(req, messages);
	prompt = mock_json_text_bytes(messages) / 4 + 1;
	completion = tool ? 8 : mock_answer_words(r->content);
	if (json_is_true(json_object_get(req, "stream")))
		mock_openai_chat_stream(a, json_string_value(model), tool, mock_openai_wants_usage(req), prompt, completion, r);
	else
		mock_openai_chat_plain(a, json_string_value(model), tool, prompt, completion, r);
}

static void mock_openai_completion(struct mock_answer *a, const json_t *req, const struct mock_reply *r)
{
	const json_t *model = json_object_get(req, "model");
	size_t prompt = mock_json_text_bytes(json_object_get(req, "prompt")) / 4 + 1;
	size_t completion = mock_answer_words(r->content);
	struct buf head;
	struct mock_answer_split split;
	size_t at, off, n;

	if (!json_is_string(model)) {
		mock_openai_invalid(a, "you must provide a model parameter", "model");
		return;
	}
	if (!json_is_true(json_object_get(req, "stream"))) {
		mock_openai_head(&a->text, "cmpl-mock-", "text_completion", json_string_value(model), r);
		buf_append_str(&a->text, ",\"choices\":[{\"text\":");
		mock_json_cstring(&a->text, r->content);
		buf_append_str(&a->text, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],");
		mock_openai_usage(&a->text, prompt, completion);
		buf_append_str(&a->text, "}");
		return;
	}
	a->stream = true;
	a->content_type = "text/event-stream";
	buf_init(&head, MOCK_ANSWER_MAX);
	mock_openai_head(&head, "cmpl-mock-", "text_completion", json_string_value(model), r);
	a->text.failed |= head.failed;
	mock_answer_split_init(&split, r->content, strlen(r->content), r->chunks);
	while (mock_answer_split_next(&split, &off, &n)) {
		at = mock_openai_event_open(a, &head);
		buf_append_str(&a->text, ",\"choices\":[{\"text\":");
		mock_json_string(&a->text, r->content + off, n);
		buf_append_str(&a->text, ",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n");
		mock_answer_event(a, at, MOCK_EVENT_CONTENT);
	}
	at = mock_openai_event_open(a, &head);
	buf_append_str(&a->text, ",\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n");
	mock_answer_event(a, at, MOCK_EVENT_FRAME);
	mock_openai_stream_end(a, &head, ",\"choices\":[{\"text\":\"Hel\n\n", mock_openai_wants_usage(req),
			       prompt, completion, r);
	buf_free(&head);
}

static void mock_openai_embeddings(struct mock_answer *a, const json_t *req, const struct mock_reply *r)
{
	const json_t *model = json_object_get(req, "model");
	const json_t *input = json_object_get(req, "input");
	size_t count = 1;
	size_t i;

	(void)r;
	if (!json_is_string(model)) {
		mock_openai_invalid(a, "you must provide a model parameter", "model");
		return;
	}
	if (!json_is_string(input) && !(json_is_array(input) && json_array_size(input) > 0)) {
		mock_openai_invalid(a, "'input' must be a string or a non-empty array", "input");
		return;
	}
	/* an array of strings (or of token arrays) is one input per element; an array of numbers is one input */
	if (json_is_array(input) && !json_is_number(json_array_get(input, 0)))
		count = json_array_size(input);
	buf_append_str(&a->text, "{\"object\":\"list\",\"data\":[");
	for (i = 0; i < count; i++)
		buf_printf(&a->text, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":[0.1,0.2,0.3]}",
				i ? "," : "", i);
	buf_append_str(&a->text, "],\"model\":");
	mock_json_cstring(&a->text, json_string_value(model));
	buf_printf(&a->text, ",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}", count, count);
}

static void mock_openai_models(struct mock_answer *a, const struct mock_reply *r)
{
	size_t i;

	buf_append_str(&a->text, "{\"object\":\"list\",\"data\":[");
	for (i = 0; i < r->n_models; i++) {
		buf_append_str(&a->text, i ? ",{\"id\":" : "{\"id\":");
		mock_json_cstring(&a->text, r->models[i]);
		buf_printf(&a->text, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"detour-mock\"}", r->created);
	}
	buf_append_str(&a->text, "]}");
}

/* Authorization: Bearer KEY, as OpenAI checks it. Returns true when the call may go on. */
static bool mock_openai_authorized(struct mock_answer *a, const struct mock_call *call, const struct mock_reply *r)
{
	const char *auth = call->authorization;

	if (r->api_key == NULL)
		return true;
	if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0 && strcmp(auth + 7, r->api_key) == 0)
		return true;
	mock_openai_error_full(a, 401, auth == NULL
			       ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
			       : "Incorrect API key provided.",
			       "invalid_request_error", NULL, "invalid_api_key");
	return false;
}

struct mock_openai_route {
	const char *method;
	const char *path;
	void (*handle)(struct mock_answer *a, const json_t *req, const struct mock_reply *r);   /* NULL: GET /v1/models */
};

static const struct mock_openai_route mock_openai_routes[] = {
	{ "POST", "/v1/chat/completions", mock_openai_chat },
	{ "POST", "/v1/completions", mock_openai_completion },
	{ "POST", "/v1/embeddings", mock_openai_embeddings },
	{ "POST", "/v1/responses", mock_responses_answer },
	{ "GET", "/v1/models", NULL },
};

static void mock_openai_answer(struct mock_answer *a, const struct mock_call *call, const struct mock_reply *r)
{
	const struct mock_openai_route *route = NULL;
	char message[512];
	json_t *req;
	size_t i;

	if (!mock_openai_authorized(a, call, r))
		return;
	for (i = 0; i < sizeof mock_openai_routes / sizeof mock_openai_routes[0]; i++)
		if (strcmp(mock_openai_routes[i].path, call->path) == 0)
			route = &mock_openai_routes[i];
	if (route == NULL) {
		snprintf(message, sizeof message, "Unknown request URL: %s %.400s. Please check the URL for typos.",
			 call->method, call->path);
		mock_openai_error_full(a, 404, message, "invalid_request_error", NULL, "unknown_url");
		return;
	}
	if (strcmp(route->method, call->method) != 0) {
		snprintf(message, sizeof message, "Invalid method for URL (%s %.400s)", call->method, call->path);
		mock_openai_error_full(a, 405, message, "invalid_request_error", NULL, NULL);
		return;
	}
	if (route->handle == NULL) {
		mock_openai_models(a, r);
		return;
	}
	req = mock_json_parse(call->body, call->body_len, message, sizeof message);
	if (req == NULL) {
		mock_openai_invalid(a, message, NULL);
		return;
	}
	if (json_is_object(req))
		route->handle(a, req, r);
	else
		mock_openai_invalid(a, "the request body must be a JSON object", NULL);
	json_decref(req);
}

const struct mock_dialect mock_openai_dialect = {
	.answer = mock_openai_answer,
	.error = mock_openai_error,
};

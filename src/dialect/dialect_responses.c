/* dialect_responses.c — OpenAI's Responses API spoken natively to an upstream that serves it: the client's request forwarded, its answer and events passed through. */
#include "dialect_responses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect_openai.h"
#include "jsonwrite.h"

/* The request sent upstream is bounded like the chat request a translation makes. */
#define DIALECT_RESPONSES_MAX_REQUEST (64u * 1024 * 1024)

struct dialect_responses_stream {
	bool ended;
};

static const char *dialect_responses_unsupported(enum request_kind kind)
{
	return kind == REQUEST_CHAT ? NULL : "the Responses API serves responses only";
}

static const char *dialect_responses_path(enum request_kind kind)
{
	(void)kind;
	return "/responses";
}

static void dialect_responses_headers(const struct config_upstream *cfg, dialect_header add, void *arg)
{
	dialect_openai.headers(cfg, add, arg);
}

/* The level's changes on a Responses request (a copy the caller owns). */
static int dialect_responses_change(json_t *req, const struct dialect_call *call)
{
	const struct request_changes *c = call->changes;
	json_t *max = json_object_get(req, "max_output_tokens");
	int rc = 0;

	if (c->model != NULL)
		rc |= json_object_set_new(req, "model", json_string(c->model));
	if (c->max_tokens > 0 && (!json_is_integer(max) || json_integer_value(max) > (json_int_t)c->max_tokens))
		rc |= json_object_set_new(req, "max_output_tokens", json_integer((json_int_t)c->max_tokens));
	if (c->drop & CONFIG_DROP_TOOLS) {
		json_object_del(req, "tools");
		json_object_del(req, "tool_choice");
		json_object_del(req, "parallel_tool_calls");
	}
	/* detour expanded the conversation: the upstream never saw that id. */
	json_object_del(req, "previous_response_id");
	if (call->stream)
		rc |= json_object_set_new(req, "stream", json_true());
	else
		json_object_del(req, "stream");
	return rc;
}

static enum dialect_built dialect_responses_request(const struct dialect_call *call, char **body, size_t *len,
						    struct refusal *no)
{
	json_t *req;
	struct buf text;

	*body = NULL;
	buf_init(&text, DIALECT_RESPONSES_MAX_REQUEST);
	if (call->client == NULL) {
		refusal_why(no, "the upstream speaks the Responses API only");
		return DIALECT_REFUSED;
	}
	req = json_deep_copy(call->client);
	if (req == NULL || dialect_responses_change(req, call) != 0)
		goto fail;
	if (jsonwrite(&text, req) != 0)
		goto fail;
	json_decref(req);
	*body = buf_take(&text, len);
	return DIALECT_BUILT;
fail:
	buf_free(&text);
	json_decref(req);
	return DIALECT_FAILED;
}

static enum dialect_answer dialect_responses_answer(unsigned status, const char *body, size_t len,
						    uint64_t created_unix, struct buf *out, char *why, size_t whylen)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *object = json_string_value(json_object_get(root, "object"));
	const char *state = json_string_value(json_object_get(root, "status"));
	enum dialect_answer verdict = DIALECT_SAME;

	(void)created_unix;
	(void)out;
	if (object == NULL || strcmp(object, "response") != 0) {
		snprintf(why, whylen, "a %u answer that is not a response object", status);
		verdict = DIALECT_BROKEN;
	} else if (state != NULL && strcmp(state, "failed") == 0) {
		const char *message = json_string_value(json_object_get(json_object_get(root, "error"), "message"));

		snprintf(why, whylen, "response failed: %s", message != NULL ? message : "no reason given");
		verdict = DIALECT_BROKEN;
	}
	json_decref(root);
	return verdict;
}

static enum dialect_answer dialect_responses_error(unsigned status, const char *body, size_t len, struct buf *out)
{
	return dialect_openai.error(status, body, len, out);
}

static void dialect_responses_stream_init(void *state, uint64_t created_unix, bool include_usage)
{
	struct dialect_responses_stream *s = state;

	(void)created_unix;
	(void)include_usage;
	s->ended = false;
}

static bool dialect_responses_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static enum dialect_event dialect_responses_stream_event(void *state, const struct sse_event *ev, dialect_emit emit,
							 void *arg, char *words, size_t wlen)
{
	struct dialect_responses_stream *s = state;
	json_t *root;
	const char *type, *message;
	enum dialect_event verdict = DIALECT_EVENT_NONE;

	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)
		return s->ended ? DIALECT_EVENT_NONE : DIALECT_EVENT_DONE;
	root = json_loadb(ev->data, ev->data_len, 0, NULL);
	type = json_string_value(json_object_get(root, "type"));
	if (type == NULL) {
		snprintf(words, wlen, "a Responses stream event without a type");
		verdict = DIALECT_EVENT_ERROR;
	} else if (strcmp(type, "response.failed") == 0 || strcmp(type, "error") == 0) {
		message = json_string_value(json_object_get(json_object_get(json_object_get(root, "response"), "error"),
							    "message"));
		if (message == NULL)
			message = json_string_value(json_object_get(root, "message"));
		snprintf(words, wlen, "%s: %s", type, message != NULL ? message : "no reason given");
		verdict = DIALECT_EVENT_ERROR;
	} else if (emit(arg, ev->data, ev->data_len) != 0) {
		snprintf(words, wlen, "the event could not be relayed");
		verdict = DIALECT_EVENT_ERROR;
	} else if (strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0) {
		s->ended = true;
		verdict = DIALECT_EVENT_DONE;
	} else if (dialect_responses_ends_with(type, ".delta")) {
		verdict = DIALECT_EVENT_CONTENT;
	}
	json_decref(root);
	return verdict;
}

const struct dialect dialect_responses = {
	.name = "responses",
	.unsupported = dialect_responses_unsupported,
	.path = dialect_responses_path,
	.headers = dialect_responses_headers,
	.request = dialect_responses_request,
	.answer = dialect_responses_answer,
	.error = dialect_responses_error,
	.stream_size = sizeof(struct dialect_responses_stream),
	.stream_init = dialect_responses_stream_init,
	.stream_event = dialect_responses_stream_event,
};

/* mock_responses.c — OpenAI's Responses API as the mock speaks it natively: a response object, or the real event sequence with sequence numbers. */
#include "mock_responses.h"

#include <stdbool.h>
#include <string.h>

#include "mock_json.h"

/* The response object, with status, the output text (NULL: no output) and
 * the error of a failed one (NULL: none). */
static void mock_responses_object(struct buf *b, const char *model, const char *status, const char *text,
				  const struct mock_reply *r, bool failed)
{
	buf_printf(b, "{\"id\":\"resp_mock%llu\",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\","
			"\"error\":", r->seq, r->created, status);
	if (failed)
		buf_printf(b, "{\"code\":\"server_error\",\"message\":\"detour-mock %s: injected stream error\"}", r->name);
	else
		buf_append_str(b, "null");
	buf_append_str(b, ",\"incomplete_details\":null,\"model\":");
	mock_json_cstring(b, model);
	buf_append_str(b, ",\"output\":[");
	if (text != NULL) {
		buf_printf(b, "{\"type\":\"message\",\"id\":\"msg_mock%llu\",\"status\":\"completed\",\"role\":\"assistant\","
				"\"content\":[{\"type\":\"output_text\",\"annotations\":[],\"text\":", r->seq);
		mock_json_cstring(b, text);
		buf_append_str(b, "}]}");
	}
	buf_append_str(b, "],\"parallel_tool_calls\":true,\"tools\":[],\"text\":{\"format\":{\"type\":\"text\"}},\"usage\":");
	if (text != NULL)
		buf_append_str(b, "{\"input_tokens\":3,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":4,"
			      "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":7}}");
	else
		buf_append_str(b, "null}");
}

/* Opens an event "event: TYPE\ndata: {"type":TYPE,"sequence_number":N"; returns where it starts. */
static size_t mock_responses_open(struct mock_answer *a, const char *type, unsigned *seq)
{
	size_t at = a->text.len;

	buf_printf(&a->text, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%u", type, type, (*seq)++);
	return at;
}

static void mock_responses_close(struct mock_answer *a, size_t at, enum mock_event_kind kind)
{
	buf_append_str(&a->text, "}\n\n");
	mock_answer_event(a, at, kind);
}

static void mock_responses_stream(struct mock_answer *a, const char *model, const struct mock_reply *r)
{
	struct mock_answer_split split;
	unsigned seq = 0;
	size_t at, off, n;

	a->stream = true;
	a->content_type = "text/event-stream";
	at = mock_responses_open(a, "response.created", &seq);
	buf_append_str(&a->text, ",\"response\":");
	mock_responses_object(&a->text, model, "in_progress", NULL, r, false);
	mock_responses_close(a, at, MOCK_EVENT_PREAMBLE);
	at = mock_responses_open(a, "response.in_progress", &seq);
	buf_append_str(&a->text, ",\"response\":");
	mock_responses_object(&a->text, model, "in_progress", NULL, r, false);
	mock_responses_close(a, at, MOCK_EVENT_PREAMBLE);
	at = mock_responses_open(a, "response.output_item.added", &seq);
	buf_printf(&a->text, ",\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_mock%llu\","
			"\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}", r->seq);
	mock_responses_close(a, at, MOCK_EVENT_PREAMBLE);
	at = mock_responses_open(a, "response.content_part.added", &seq);
	buf_printf(&a->text, ",\"item_id\":\"msg_mock%llu\",\"output_index\":0,\"content_index\":0,"
			"\"part\":{\"type\":\"output_text\",\"annotations\":[],\"text\":\"\"}", r->seq);
	mock_responses_close(a, at, MOCK_EVENT_PREAMBLE);

	mock_answer_split_init(&split, r->content, strlen(r->content), r->chunks);
	while (mock_answer_split_next(&split, &off, &n)) {
		at = mock_responses_open(a, "response.output_text.delta", &seq);
		buf_printf(&a->text, ",\"item_id\":\"msg_mock%llu\",\"output_index\":0,\"content_index\":0,\"delta\":",
				r->seq);
		mock_json_string(&a->text, r->content + off, n);
		mock_responses_close(a, at, MOCK_EVENT_CONTENT);
	}
	at = mock_responses_open(a, "response.output_text.done", &seq);
	buf_printf(&a->text, ",\"item_id\":\"msg_mock%llu\",\"output_index\":0,\"content_index\":0,\"text\":", r->seq);
	mock_json_cstring(&a->text, r->content);
	mock_responses_close(a, at, MOCK_EVENT_FRAME);
	at = mock_responses_open(a, "response.output_item.done", &seq);
	buf_printf(&a->text, ",\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_mock%llu\","
			"\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
			"\"annotations\":[],\"text\":", r->seq);
	mock_json_cstring(&a->text, r->content);
	buf_append_str(&a->text, "}]}");
	mock_responses_close(a, at, MOCK_EVENT_FRAME);
	at = mock_responses_open(a, "response.completed", &seq);
	buf_append_str(&a->text, ",\"response\":");
	mock_responses_object(&a->text, model, "completed", r->content, r, false);
	mock_responses_close(a, at, MOCK_EVENT_FRAME);

	/* The spare events of the stream faults: the API's own failure, and broken JSON. */
	at = a->text.len;
	buf_printf(&a->text, "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":%u,"
			"\"response\":", seq);
	mock_responses_object(&a->text, model, "failed", NULL, r, true);
	buf_append_str(&a->text, "}\n\n");
	mock_answer_spare(a, &a->error_event, at);
	at = a->text.len;
	buf_append_str(&a->text, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.del\n\n");
	mock_answer_spare(a, &a->malformed_event, at);
}

void mock_responses_answer(struct mock_answer *a, const json_t *req, const struct mock_reply *r)
{
	const json_t *model = json_object_get(req, "model");

	if (!json_is_string(model) || json_object_get(req, "input") == NULL) {
		a->status = 400;
		a->content_type = "application/json";
		buf_append_str(&a->text, "{\"error\":{\"message\":\"model and input are required\",\"type\":"
			      "\"invalid_request_error\",\"param\":null,\"code\":null}}");
		return;
	}
	if (json_is_true(json_object_get(req, "stream"))) {
		mock_responses_stream(a, json_string_value(model), r);
		return;
	}
	a->content_type = "application/json";
	mock_responses_object(&a->text, json_string_value(model), "completed", r->content, r, false);
}

/* responses_answer.c — a chat completion as a Responses API `response` object: the echoed request, output items, status and usage. */
#include "responses.h"

#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "jsonwrite.h"

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

/* ---- a whole chat answer, read in place and written as bytes ---- */

/* A value of the chat answer as a span of its bytes; p NULL: absent. */
struct responses_span {
	const char *p;
	size_t n;
	enum jsonscan_type type;
};

/* The members of one object wanted by name: the last of each name wins, as jansson's does. */
struct responses_pick {
	const char *const *keys;
	struct responses_span *spans;
	size_t n;
};

static int responses_pick_member(void *arg, const struct jsonscan_member *m)
{
	struct responses_pick *pick = arg;
	size_t i;

	for (i = 0; i < pick->n; i++) {
		if (jsonscan_key_is(m, pick->keys[i])) {
			pick->spans[i] = (struct responses_span){ m->value, m->value_len, m->type };
			break;
		}
	}
	return 0;
}

/* Fills spans[i] with obj's member keys[i]; all absent when obj is not an object. */
static void responses_pick(const struct responses_span *obj, const char *const *keys, struct responses_span *spans,
			   size_t n)
{
	struct responses_pick pick = { keys, spans, n };

	memset(spans, 0, n * sizeof *spans);
	if (obj->p != NULL && obj->type == JSONSCAN_OBJECT)
		jsonscan_members(obj->p, obj->n, responses_pick_member, &pick);
}

static int responses_first_element(void *arg, const struct jsonscan_member *m)
{
	*(struct responses_span *)arg = (struct responses_span){ m->value, m->value_len, m->type };
	return 1;
}

static bool responses_span_is_string(const struct responses_span *s)
{
	return s->p != NULL && s->type == JSONSCAN_STRING;
}

/* True when the span is the string text (escapes decoded). */
static bool responses_span_is(const struct responses_span *s, const char *text)
{
	size_t n = strlen(text);
	char decoded[64];

	if (!responses_span_is_string(s))
		return false;
	if (memchr(s->p, '\\', s->n) == NULL)
		return s->n == n + 2 && memcmp(s->p + 1, text, n) == 0;
	return jsonscan_decode_string(s->p, s->n, decoded, sizeof decoded) == (long)n && memcmp(decoded, text, n) == 0;
}

/* A whole number >= 0, as jansson reads an integer (no fraction, no exponent), else 0. */
static json_int_t responses_span_count(const struct responses_span *s)
{
	char digits[32];
	long long v;

	if (s->p == NULL || s->type != JSONSCAN_NUMBER || s->n >= sizeof digits || memchr(s->p, '.', s->n) != NULL ||
	    memchr(s->p, 'e', s->n) != NULL || memchr(s->p, 'E', s->n) != NULL)
		return 0;
	memcpy(digits, s->p, s->n);
	digits[s->n] = '\0';
	v = strtoll(digits, NULL, 10);
	return v > 0 ? (json_int_t)v : 0;
}

/* Appends v in decimal (printf costs more than the rest of a small response). */
static int responses_put_int(struct buf *out, json_int_t v)
{
	char digits[24], *p = digits + sizeof digits;
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	return buf_append(out, p, (size_t)(digits + sizeof digits - p));
}

/*
 * Appends the string span as JSON: as written when it holds no escape (the
 * scanner checked its UTF-8 and it has no control byte), else decoded and
 * written again by detour's string writer.
 */
static int responses_put_span(struct buf *out, const struct responses_span *s)
{
	char *decoded;
	long n;
	int rc = -1;

	if (memchr(s->p, '\\', s->n) == NULL)
		return buf_append(out, s->p, s->n);
	if ((decoded = malloc(s->n)) == NULL)
		return -1;
	n = jsonscan_decode_string(s->p, s->n, decoded, s->n);
	if (n >= 0 && buf_append(out, "\"", 1) == 0 && buf_append_json_escaped(out, decoded, (size_t)n) == 0)
		rc = buf_append(out, "\"", 1);
	free(decoded);
	return rc;
}

/* The string span, or fallback (a JSON text) when it is not a string. */
static int responses_put_string_or(struct buf *out, const struct responses_span *s, const char *fallback)
{
	return responses_span_is_string(s) ? responses_put_span(out, s) : buf_append_str(out, fallback);
}

/* A value of the client's request as JSON, or fallback (a JSON text) when absent or null. */
static int responses_put_echo(struct buf *out, const json_t *request, const char *key, const char *fallback)
{
	json_t *v = json_object_get(request, key);

	return v == NULL || json_is_null(v) ? buf_append_str(out, fallback) : jsonwrite(out, v);
}

/* The message item of an answer: its text and refusal as parts. */
static int responses_put_message(struct buf *out, const struct responses_span *content,
				 const struct responses_span *refusal, const char *status, struct rng *rng)
{
	char id[RESPONSES_ID_SIZE];
	int rc;

	responses_id(rng, "msg_", id);
	rc = buf_append_str(out, "{\"type\":\"message\",\"id\":\"");
	rc |= buf_append_str(out, id);
	rc |= buf_append_str(out, "\",\"status\":\"");
	rc |= buf_append_str(out, status);
	rc |= buf_append_str(out, "\",\"role\":\"assistant\",\"content\":[");
	if (responses_span_is_string(content) || !responses_span_is_string(refusal)) {
		rc |= buf_append_str(out, "{\"type\":\"output_text\",\"text\":");
		rc |= responses_put_string_or(out, content, "\"\"");
		rc |= buf_append_str(out, ",\"annotations\":[]}");
		if (responses_span_is_string(refusal))
			rc |= buf_append(out, ",", 1);
	}
	if (responses_span_is_string(refusal)) {
		rc |= buf_append_str(out, "{\"type\":\"refusal\",\"refusal\":");
		rc |= responses_put_span(out, refusal);
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
	struct responses_span call = { m->value, m->value_len, m->type }, got[2], function[2];
	char fc[RESPONSES_ID_SIZE];

	responses_pick(&call, call_keys, got, 2);
	responses_pick(&got[1], function_keys, function, 2);
	responses_id(c->rng, "fc_", fc);
	c->rc |= buf_append_str(c->out, c->first ? "{\"type\":\"function_call\",\"id\":\"" : ",{\"type\":\"function_call\",\"id\":\"");
	c->rc |= buf_append_str(c->out, fc);
	c->rc |= buf_append_str(c->out, "\",\"call_id\":");
	c->rc |= responses_put_string_or(c->out, &got[0], "\"\"");
	c->rc |= buf_append_str(c->out, ",\"name\":");
	c->rc |= responses_put_string_or(c->out, &function[0], "\"\"");
	c->rc |= buf_append_str(c->out, ",\"arguments\":");
	c->rc |= responses_put_string_or(c->out, &function[1], "\"{}\"");
	c->rc |= buf_append_str(c->out, ",\"status\":\"completed\"}");
	c->first = false;
	return c->rc != 0;
}

/* The output items of choice 0's message. */
static int responses_put_output(struct buf *out, const struct responses_span *message, const char *status,
				struct rng *rng)
{
	static const char *const keys[] = { "content", "refusal", "tool_calls" };
	struct responses_span got[3];
	struct responses_calls calls = { out, rng, true, 0 };
	bool has_calls, has_text;

	responses_pick(message, keys, got, 3);
	has_calls = got[2].p != NULL && got[2].type == JSONSCAN_ARRAY && !jsonscan_empty(got[2].p, got[2].n);
	has_text = responses_span_is_string(&got[0]) && got[0].n > 2;
	/* An answer of tool calls alone has no message item, as from the API;
	 * an empty answer still has one, so output_text is "" and not missing. */
	if (has_text || responses_span_is_string(&got[1]) || !has_calls) {
		calls.rc = responses_put_message(out, &got[0], &got[1], status, rng);
		calls.first = false;
	}
	if (has_calls && calls.rc == 0)
		jsonscan_elements(got[2].p, got[2].n, responses_put_call, &calls);
	return calls.rc;
}

/* The chat usage as the Responses one (see responses_usage). */
static int responses_put_usage(struct buf *out, const struct responses_span *usage)
{
	static const char *const keys[] = { "prompt_tokens", "completion_tokens", "total_tokens",
					    "prompt_tokens_details", "completion_tokens_details" };
	static const char *const cached[] = { "cached_tokens" }, *const reasoning[] = { "reasoning_tokens" };
	struct responses_span got[5], c, r;
	json_int_t input, output, total;

	responses_pick(usage, keys, got, 5);
	responses_pick(&got[3], cached, &c, 1);
	responses_pick(&got[4], reasoning, &r, 1);
	input = responses_span_count(&got[0]);
	output = responses_span_count(&got[1]);
	total = responses_span_count(&got[2]);
	return buf_append_str(out, "{\"input_tokens\":") | responses_put_int(out, input) |
	       buf_append_str(out, ",\"input_tokens_details\":{\"cached_tokens\":") |
	       responses_put_int(out, responses_span_count(&c)) | buf_append_str(out, "},\"output_tokens\":") |
	       responses_put_int(out, output) | buf_append_str(out, ",\"output_tokens_details\":{\"reasoning_tokens\":") |
	       responses_put_int(out, responses_span_count(&r)) | buf_append_str(out, "},\"total_tokens\":") |
	       responses_put_int(out, total > 0 ? total : input + output) | buf_append(out, "}", 1);
}

/* The response object, in responses_object's member order, choice 0 and the answer's model and usage filled in. */
static int responses_put_response(struct buf *out, const struct responses_meta *m, const struct responses_span *top,
				  const struct responses_span *choice, struct rng *rng)
{
	static const char *const keys[] = { "message", "finish_reason" };
	const json_t *r = m->request, *reasoning = json_object_get(r, "reasoning");
	struct responses_span got[2];
	const char *reason;
	int rc;

	responses_pick(choice, keys, got, 2);
	if (got[0].p == NULL || got[0].type != JSONSCAN_OBJECT)
		return -1;
	reason = responses_span_is(&got[1], "length") ? "max_output_tokens"
		 : responses_span_is(&got[1], "content_filter") ? "content_filter" : NULL;
	rc = buf_append_str(out, "{\"id\":");
	rc |= buf_append_json_string(out, m->id);
	rc |= buf_append_str(out, ",\"object\":\"response\",\"created_at\":");
	rc |= responses_put_int(out, (json_int_t)m->created_at);
	rc |= buf_append_str(out, reason != NULL ? ",\"status\":\"incomplete\"" : ",\"status\":\"completed\"");
	rc |= buf_append_str(out, ",\"background\":false,\"error\":null,\"incomplete_details\":");
	if (reason != NULL)
		rc |= buf_append_str(out, "{\"reason\":\"") | buf_append_str(out, reason) | buf_append_str(out, "\"}");
	else
		rc |= buf_append_str(out, "null");
	rc |= buf_append_str(out, ",\"instructions\":");
	rc |= responses_put_echo(out, r, "instructions", "null");
	rc |= buf_append_str(out, ",\"max_output_tokens\":");
	rc |= responses_put_echo(out, r, "max_output_tokens", "null");
	rc |= buf_append_str(out, ",\"model\":");
	rc |= responses_span_is_string(&top[0]) ? responses_put_span(out, &top[0])
						 : responses_put_echo(out, r, "model", "\"\"");
	rc |= buf_append_str(out, ",\"output\":[");
	if (rc == 0)
		rc = responses_put_output(out, &got[0], reason != NULL ? "incomplete" : "completed", rng);
	rc |= buf_append_str(out, "],\"parallel_tool_calls\":");
	rc |= responses_put_echo(out, r, "parallel_tool_calls", "true");
	rc |= buf_append_str(out, ",\"previous_response_id\":");
	rc |= responses_put_echo(out, r, "previous_response_id", "null");
	rc |= buf_append_str(out, ",\"reasoning\":{\"effort\":");
	rc |= responses_put_echo(out, reasoning, "effort", "null");
	rc |= buf_append_str(out, ",\"summary\":");
	rc |= responses_put_echo(out, reasoning, "summary", "null");
	rc |= buf_append_str(out, "},\"store\":");
	rc |= responses_put_echo(out, r, "store", "true");
	rc |= buf_append_str(out, ",\"temperature\":");
	rc |= responses_put_echo(out, r, "temperature", "1.0");
	rc |= buf_append_str(out, ",\"text\":");
	rc |= responses_put_echo(out, r, "text", "{\"format\":{\"type\":\"text\"}}");
	rc |= buf_append_str(out, ",\"tool_choice\":");
	rc |= responses_put_echo(out, r, "tool_choice", "\"auto\"");
	rc |= buf_append_str(out, ",\"tools\":");
	rc |= responses_put_echo(out, r, "tools", "[]");
	rc |= buf_append_str(out, ",\"top_p\":");
	rc |= responses_put_echo(out, r, "top_p", "1.0");
	rc |= buf_append_str(out, ",\"truncation\":");
	rc |= responses_put_echo(out, r, "truncation", "\"disabled\"");
	rc |= buf_append_str(out, ",\"usage\":");
	rc |= responses_put_usage(out, &top[2]);
	rc |= buf_append_str(out, ",\"user\":");
	rc |= responses_put_echo(out, r, "user", "null");
	rc |= buf_append_str(out, ",\"metadata\":");
	rc |= responses_put_echo(out, r, "metadata", "{}");
	return rc | buf_append(out, "}", 1);
}

int responses_answer_bytes(const struct responses_meta *m, const char *chat, size_t len, struct rng *rng,
			   struct buf *out)
{
	static const char *const keys[] = { "model", "choices", "usage" };
	struct responses_span root = { chat, len, JSONSCAN_OBJECT }, top[3], choice = { NULL, 0, JSONSCAN_NULL };
	size_t before = out->len;

	if (chat == NULL || !jsonscan_valid_object(chat, len))
		return -1;
	responses_pick(&root, keys, top, 3);
	if (top[1].p != NULL && top[1].type == JSONSCAN_ARRAY)
		jsonscan_elements(top[1].p, top[1].n, responses_first_element, &choice);
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

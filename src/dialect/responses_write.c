/* responses_write.c — a Responses API `response` object written as bytes: chat JSON read in place as spans, the echoed request, usage and numbers. */
#include "responses_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonwrite.h"

json_int_t responses_write_count(const struct jsonscan_value *s)
{
	long long v;

	return jsonscan_integer(s, &v) && v > 0 ? (json_int_t)v : 0;
}

int responses_write_span(struct buf *out, const struct jsonscan_value *s, size_t *decoded_len)
{
	char *decoded;
	long n;
	int rc = -1;

	if (memchr(s->p, '\\', s->n) == NULL) {
		if (decoded_len != NULL)
			*decoded_len = s->n - 2;
		return buf_append(out, s->p, s->n);
	}
	if ((decoded = malloc(s->n)) == NULL)
		return -1;
	n = jsonscan_decode_string(s->p, s->n, decoded, s->n);
	if (n >= 0 && buf_append(out, "\"", 1) == 0 && buf_append_json_escaped(out, decoded, (size_t)n) == 0)
		rc = buf_append(out, "\"", 1);
	if (decoded_len != NULL)
		*decoded_len = n >= 0 ? (size_t)n : 0;
	free(decoded);
	return rc;
}

int responses_write_string_or(struct buf *out, const struct jsonscan_value *s, const char *fallback)
{
	return jsonscan_is_string(s) ? responses_write_span(out, s, NULL) : buf_append_str(out, fallback);
}

int responses_write_echo(struct buf *out, const json_t *request, const char *key, const char *fallback)
{
	json_t *v = json_object_get(request, key);

	return v == NULL || json_is_null(v) ? buf_append_str(out, fallback) : jsonwrite(out, v);
}

void responses_write_usage_of(const struct jsonscan_value *usage, struct responses_counts *u)
{
	static const char *const keys[] = { "prompt_tokens", "completion_tokens", "total_tokens",
					    "prompt_tokens_details", "completion_tokens_details" };
	static const char *const cached[] = { "cached_tokens" }, *const reasoning[] = { "reasoning_tokens" };
	struct jsonscan_value got[5], c, r;

	jsonscan_pick(usage, keys, got, 5);
	jsonscan_pick(&got[3], cached, &c, 1);
	jsonscan_pick(&got[4], reasoning, &r, 1);
	u->input = responses_write_count(&got[0]);
	u->output = responses_write_count(&got[1]);
	u->total = responses_write_count(&got[2]);
	u->cached = responses_write_count(&c);
	u->reasoning = responses_write_count(&r);
}

int responses_write_usage(struct buf *out, const struct responses_counts *u)
{
	return buf_append_str(out, "{\"input_tokens\":") | jsonwrite_int(out, u->input) |
	       buf_append_str(out, ",\"input_tokens_details\":{\"cached_tokens\":") |
	       jsonwrite_int(out, u->cached) | buf_append_str(out, "},\"output_tokens\":") |
	       jsonwrite_int(out, u->output) |
	       buf_append_str(out, ",\"output_tokens_details\":{\"reasoning_tokens\":") |
	       jsonwrite_int(out, u->reasoning) | buf_append_str(out, "},\"total_tokens\":") |
	       jsonwrite_int(out, u->total > 0 ? u->total : u->input + u->output) | buf_append(out, "}", 1);
}

/* A member of the response that echoes the request's, and its value when the request has none. */
struct responses_write_echoed {
	const char *member;
	const char *fallback;  /* a JSON text */
};

/* The echoed members, in the response's order, between the ones detour writes itself. */
static const struct responses_write_echoed responses_write_before_model[] = {
	{ "instructions", "null" }, { "max_output_tokens", "null" },
};
static const struct responses_write_echoed responses_write_after_output[] = {
	{ "parallel_tool_calls", "true" }, { "previous_response_id", "null" },
};
static const struct responses_write_echoed responses_write_after_reasoning[] = {
	{ "store", "true" }, { "temperature", "1.0" }, { "text", "{\"format\":{\"type\":\"text\"}}" },
	{ "tool_choice", "\"auto\"" }, { "tools", "[]" }, { "top_p", "1.0" }, { "truncation", "\"disabled\"" },
};
static const struct responses_write_echoed responses_write_after_usage[] = {
	{ "user", "null" }, { "metadata", "{}" },
};

/* Appends ,"member":value for each of echoed[0..n). */
static int responses_write_echoes(struct buf *out, const json_t *request, const struct responses_write_echoed *echoed,
				  size_t n)
{
	int rc = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		rc |= buf_append(out, ",\"", 2) | buf_append_str(out, echoed[i].member) | buf_append(out, "\":", 2);
		rc |= responses_write_echo(out, request, echoed[i].member, echoed[i].fallback);
	}
	return rc;
}

#define RESPONSES_WRITE_ECHOES(out, request, list) \
	responses_write_echoes(out, request, list, sizeof list / sizeof list[0])

int responses_write_open(struct buf *out, const struct responses_meta *m, const char *status, const char *error,
			 const char *incomplete, const char *model, size_t model_len)
{
	int rc;

	rc = buf_append_str(out, "{\"id\":");
	rc |= buf_append_json_string(out, m->id);
	rc |= buf_append_str(out, ",\"object\":\"response\",\"created_at\":");
	rc |= jsonwrite_int(out, (json_int_t)m->created_at);
	rc |= buf_append_str(out, ",\"status\":\"");
	rc |= buf_append_str(out, status);
	rc |= buf_append_str(out, "\",\"background\":false,\"error\":");
	rc |= buf_append_str(out, error != NULL ? error : "null");
	rc |= buf_append_str(out, ",\"incomplete_details\":");
	if (incomplete != NULL)
		rc |= buf_append_str(out, "{\"reason\":\"") | buf_append_str(out, incomplete) | buf_append_str(out, "\"}");
	else
		rc |= buf_append_str(out, "null");
	rc |= RESPONSES_WRITE_ECHOES(out, m->request, responses_write_before_model);
	rc |= buf_append_str(out, ",\"model\":");
	rc |= model != NULL ? buf_append(out, model, model_len) : responses_write_echo(out, m->request, "model", "\"\"");
	return rc | buf_append_str(out, ",\"output\":[");
}

int responses_write_close(struct buf *out, const struct responses_meta *m, const struct responses_counts *u)
{
	const json_t *r = m->request, *reasoning = json_object_get(r, "reasoning");
	int rc;

	rc = buf_append_str(out, "]");
	rc |= RESPONSES_WRITE_ECHOES(out, r, responses_write_after_output);
	rc |= buf_append_str(out, ",\"reasoning\":{\"effort\":");
	rc |= responses_write_echo(out, reasoning, "effort", "null");
	rc |= buf_append_str(out, ",\"summary\":");
	rc |= responses_write_echo(out, reasoning, "summary", "null");
	rc |= buf_append_str(out, "}");
	rc |= RESPONSES_WRITE_ECHOES(out, r, responses_write_after_reasoning);
	rc |= buf_append_str(out, ",\"usage\":");
	rc |= u != NULL ? responses_write_usage(out, u) : buf_append_str(out, "null");
	rc |= RESPONSES_WRITE_ECHOES(out, r, responses_write_after_usage);
	return rc | buf_append(out, "}", 1);
}

/* The members detour sets on a native upstream's response, in the order added when absent. */
static const char *const responses_write_adopted_keys[] = { "id", "previous_response_id", "store" };
#define RESPONSES_WRITE_ADOPTED 3

struct responses_write_adoption {
	struct buf *out;
	const json_t *request;
	const char *id;
	bool store;
	bool written[RESPONSES_WRITE_ADOPTED];
	bool first;
};

static int responses_write_adopted_value(struct responses_write_adoption *a, size_t which)
{
	int rc;

	if (which == 0)
		rc = buf_append_json_string(a->out, a->id);
	else if (which == 1)
		rc = responses_write_echo(a->out, a->request, "previous_response_id", "null");
	else
		rc = buf_append_str(a->out, a->store ? "true" : "false");
	a->written[which] = true;
	return rc;
}

/* Writes `,"key":` (no comma before the first member) with key as the text between its quotes. */
static int responses_write_adopted_key(struct responses_write_adoption *a, const char *key, size_t key_len)
{
	int rc = a->first ? 0 : buf_append(a->out, ",", 1);

	a->first = false;
	return rc | buf_append(a->out, "\"", 1) | buf_append(a->out, key, key_len) | buf_append(a->out, "\":", 2);
}

static int responses_write_adopted_member(void *arg, const struct jsonscan_member *m)
{
	struct responses_write_adoption *a = arg;
	size_t which = 0;
	int rc;

	while (which < RESPONSES_WRITE_ADOPTED && !jsonscan_key_is(m, responses_write_adopted_keys[which]))
		which++;
	rc = responses_write_adopted_key(a, m->key, m->key_len);
	if (which < RESPONSES_WRITE_ADOPTED)
		rc |= responses_write_adopted_value(a, which);
	else
		rc |= buf_append(a->out, m->value, m->value_len);
	return rc;
}

int responses_write_adopted(struct buf *out, const char *answer, size_t len, const json_t *request, const char *id,
			    bool store)
{
	struct responses_write_adoption a = { out, request, id, store, { false }, true };
	int rc = -1;

	if (jsonscan_type_of(answer, len) == JSONSCAN_OBJECT) {
		rc = buf_append(out, "{", 1);
		rc |= jsonscan_members(answer, len, responses_write_adopted_member, &a);
		for (size_t i = 0; i < RESPONSES_WRITE_ADOPTED; i++) {
			const char *key = responses_write_adopted_keys[i];

			if (!a.written[i])
				rc |= responses_write_adopted_key(&a, key, strlen(key)) | responses_write_adopted_value(&a, i);
		}
		rc |= buf_append(out, "}", 1);
	}
	return rc;
}

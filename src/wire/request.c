/* request.c — a client's request body, read once in place: what routing needs, and the body each target is sent. */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "jsonscan.h"

const char *request_kind_path(enum request_kind kind)
{
	switch (kind) {
	case REQUEST_CHAT: return "/chat/completions";
	case REQUEST_COMPLETIONS: return "/completions";
	case REQUEST_EMBEDDINGS: return "/embeddings";
	}
	return "/";
}

static int request_refuse(struct request_error *e, const char *param, const char *code,
			  const char *message)
{
	snprintf(e->message, sizeof e->message, "%s", message);
	e->param = param;
	e->code = code;
	return -1;
}

/* The members that matter, as found at the top level (the last of a repeated key wins, as in jansson). */
struct request_fields {
	struct jsonscan_member model, stream, stream_options, max_tokens, max_completion_tokens;
	struct jsonscan_member messages, tools, temperature, input;
	bool has_model, has_stream, has_stream_options, has_max_tokens, has_max_completion_tokens;
	bool has_messages, has_tools, has_temperature, has_input;
};

static int request_pick(void *arg, const struct jsonscan_member *m)
{
	struct request_fields *f = arg;

#define REQUEST_PICK(name) \
	if (jsonscan_key_is(m, #name)) { f->name = *m; f->has_##name = true; return 0; }
	REQUEST_PICK(model)
	REQUEST_PICK(stream)
	REQUEST_PICK(stream_options)
	REQUEST_PICK(max_tokens)
	REQUEST_PICK(max_completion_tokens)
	REQUEST_PICK(messages)
	REQUEST_PICK(tools)
	REQUEST_PICK(temperature)
	REQUEST_PICK(input)
#undef REQUEST_PICK
	return 0;
}

static int request_find_usage(void *arg, const struct jsonscan_member *m)
{
	if (jsonscan_key_is(m, "include_usage"))
		*(bool *)arg = m->type == JSONSCAN_TRUE;
	return 0;
}

/* A positive whole number that fits an int64, else -1. */
static int64_t request_count(const struct jsonscan_member *m)
{
	char text[32], *end;
	long long v;

	if (m->type != JSONSCAN_NUMBER || m->value_len >= sizeof text)
		return -1;
	memcpy(text, m->value, m->value_len);
	text[m->value_len] = '\0';
	errno = 0;
	v = strtoll(text, &end, 10);
	return errno != 0 || *end != '\0' || v < 1 ? -1 : (int64_t)v;
}

static int request_check_tokens(struct request *r, const struct request_fields *f, struct request_error *e)
{
	const struct jsonscan_member *m = NULL;

	r->max_tokens_key = "max_completion_tokens";
	if (f->has_max_completion_tokens && f->max_completion_tokens.type != JSONSCAN_NULL)
		m = &f->max_completion_tokens;
	else {
		r->max_tokens_key = "max_tokens";
		if (f->has_max_tokens && f->max_tokens.type != JSONSCAN_NULL)
			m = &f->max_tokens;
	}
	if (m == NULL)
		return 0;
	r->max_tokens = request_count(m);
	if (r->max_tokens < 0)
		return request_refuse(e, r->max_tokens_key, "invalid_value",
				      "Invalid max tokens: expected a positive integer.");
	return 0;
}

/* Checks the fields every kind shares, then the kind's own. */
static int request_check(struct request *r, const struct request_fields *f, struct request_error *e)
{
	if (!f->has_model)
		return request_refuse(e, "model", "missing_required_parameter", "you must provide a model parameter");
	if (f->model.type != JSONSCAN_STRING ||
	    jsonscan_decode_string(f->model.value, f->model.value_len, r->model, sizeof r->model) <= 0)
		return request_refuse(e, "model", "invalid_type",
				      "Invalid 'model': expected a non-empty string (at most 255 bytes).");
	if (f->has_stream && f->stream.type != JSONSCAN_TRUE && f->stream.type != JSONSCAN_FALSE &&
	    f->stream.type != JSONSCAN_NULL)
		return request_refuse(e, "stream", "invalid_type", "Invalid 'stream': expected a boolean.");
	r->stream = f->has_stream && f->stream.type == JSONSCAN_TRUE;
	if (f->has_stream_options && f->stream_options.type == JSONSCAN_OBJECT)
		jsonscan_members(f->stream_options.value, f->stream_options.value_len, request_find_usage,
				 &r->include_usage);
	if (request_check_tokens(r, f, e) != 0)
		return -1;
	if (f->has_temperature && f->temperature.type == JSONSCAN_NUMBER) {
		r->has_temperature = true;
		r->temperature = strtod(f->temperature.value, NULL);
	}
	if (r->kind == REQUEST_CHAT) {
		if (!f->has_messages)
			return request_refuse(e, "messages", "missing_required_parameter",
					      "Missing required parameter: 'messages'.");
		if (f->messages.type != JSONSCAN_ARRAY)
			return request_refuse(e, "messages", "invalid_type", "Invalid 'messages': expected an array.");
		if (jsonscan_empty(f->messages.value, f->messages.value_len))
			return request_refuse(e, "messages", "empty_array",
					      "Invalid 'messages': empty array. Expected an array with minimum length 1.");
		r->has_tools = f->has_tools && f->tools.type == JSONSCAN_ARRAY &&
			       !jsonscan_empty(f->tools.value, f->tools.value_len);
	} else if (r->kind == REQUEST_EMBEDDINGS && !f->has_input) {
		return request_refuse(e, "input", "missing_required_parameter", "Missing required parameter: 'input'.");
	}
	return 0;
}

/* The words for a body that is not JSON; only this rare path pays for jansson's diagnosis. */
static int request_refuse_json(const char *body, size_t len, struct request_error *e)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);

	if (root != NULL)
		snprintf(e->message, sizeof e->message, "We could not parse the JSON body of your request.");
	else
		snprintf(e->message, sizeof e->message,
			 "We could not parse the JSON body of your request: %s (line %d, column %d).", jerr.text,
			 jerr.line, jerr.column);
	json_decref(root);
	e->param = NULL;
	e->code = "invalid_json";
	return -1;
}

int request_parse(struct request *r, enum request_kind kind, const char *body, size_t len,
		  struct request_error *e)
{
	struct request parsed;
	struct request_fields f;

	memset(&parsed, 0, sizeof parsed);
	memset(&f, 0, sizeof f);
	parsed.kind = kind;
	parsed.body = body;
	parsed.len = len;
	parsed.max_tokens = -1;
	if (!jsonscan_valid(body, len))
		return request_refuse_json(body, len, e);
	if (jsonscan_type_of(body, len) != JSONSCAN_OBJECT)
		return request_refuse(e, NULL, "invalid_json", "The request body must be a JSON object.");
	jsonscan_members(body, len, request_pick, &f);
	if (request_check(&parsed, &f, e) != 0)
		return -1;
	*r = parsed;
	return 0;
}

void request_free(struct request *r)
{
	json_decref(r->root);
	r->root = NULL;
}

json_t *request_json(struct request *r)
{
	/* request_parse let \u0000 through, as RFC 8259 does: the tree keeps it. */
	if (r->root == NULL)
		r->root = json_loadb(r->body, r->len, JSON_ALLOW_NUL, NULL);
	return r->root;
}

/* True when the cap lowers (or adds) the request's max tokens. */
static bool request_caps(const struct request *r, unsigned cap)
{
	return cap > 0 && (r->max_tokens < 0 || r->max_tokens > (int64_t)cap);
}

bool request_unchanged(const struct request *r, const struct request_changes *c)
{
	if (c->model != NULL && strcmp(c->model, r->model) != 0)
		return false;
	if (request_caps(r, c->max_tokens))
		return false;
	if ((c->drop & CONFIG_DROP_TOOLS) && r->has_tools)
		return false;
	if ((c->drop & CONFIG_DROP_STREAM) && r->stream)
		return false;
	return true;
}

struct request_splice {
	const struct request *r;
	const struct request_changes *c;
	struct buf *out;
	bool first;
	bool failed;
};

static void request_splice_member(struct request_splice *s, const char *key, size_t key_len, const char *value,
				  size_t value_len)
{
	if ((!s->first && buf_append(s->out, ",", 1) != 0) || buf_append(s->out, "\"", 1) != 0 ||
	    buf_append(s->out, key, key_len) != 0 || buf_append(s->out, "\":", 2) != 0 ||
	    buf_append(s->out, value, value_len) != 0)
		s->failed = true;
	s->first = false;
}

static void request_splice_model(struct request_splice *s)
{
	if ((!s->first && buf_append(s->out, ",", 1) != 0) || buf_append_str(s->out, "\"model\":\"") != 0 ||
	    buf_append_json_escaped(s->out, s->c->model, strlen(s->c->model)) != 0 || buf_append(s->out, "\"", 1) != 0)
		s->failed = true;
	s->first = false;
}

static void request_splice_cap(struct request_splice *s)
{
	char number[24];

	snprintf(number, sizeof number, "%u", s->c->max_tokens);
	request_splice_member(s, s->r->max_tokens_key, strlen(s->r->max_tokens_key), number, strlen(number));
}

static int request_splice_one(void *arg, const struct jsonscan_member *m)
{
	struct request_splice *s = arg;
	unsigned drop = s->c->drop;

	if (s->c->model != NULL && jsonscan_key_is(m, "model"))
		request_splice_model(s);
	else if (request_caps(s->r, s->c->max_tokens) && jsonscan_key_is(m, s->r->max_tokens_key))
		request_splice_cap(s);
	else if ((drop & CONFIG_DROP_TOOLS) && (jsonscan_key_is(m, "tools") || jsonscan_key_is(m, "tool_choice") ||
						jsonscan_key_is(m, "parallel_tool_calls")))
		return 0;
	else if ((drop & CONFIG_DROP_STREAM) && (jsonscan_key_is(m, "stream") || jsonscan_key_is(m, "stream_options")))
		return 0;
	else
		request_splice_member(s, m->key, m->key_len, m->value, m->value_len);
	return s->failed ? 1 : 0;
}

char *request_rewrite(const struct request *r, const struct request_changes *c, size_t *len)
{
	struct buf out;
	struct request_splice s = { r, c, &out, true, false };

	buf_init(&out, 2 * r->len + 1024);
	if (buf_append(&out, "{", 1) != 0 || jsonscan_members(r->body, r->len, request_splice_one, &s) != 0)
		goto fail;
	/* A cap on a request that named no limit adds one. */
	if (request_caps(r, c->max_tokens) && r->max_tokens < 0)
		request_splice_cap(&s);
	if (s.failed || buf_append(&out, "}", 1) != 0)
		goto fail;
	return buf_take(&out, len);
fail:
	buf_free(&out);
	return NULL;
}

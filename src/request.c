/* request.c — a client's request body, parsed once: what routing needs, and the body each target is sent. */
#include "request.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

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

/* Checks the fields every kind shares, then the kind's own. */
static int request_check(struct request *r, struct request_error *e)
{
	json_t *model = json_object_get(r->root, "model");
	json_t *stream = json_object_get(r->root, "stream");
	json_t *messages, *tokens;

	if (model == NULL)
		return request_refuse(e, "model", "missing_required_parameter",
				      "you must provide a model parameter");
	if (!json_is_string(model) || json_string_length(model) == 0)
		return request_refuse(e, "model", "invalid_type",
				      "Invalid 'model': expected a non-empty string.");
	r->model = json_string_value(model);
	if (stream != NULL && !json_is_boolean(stream) && !json_is_null(stream))
		return request_refuse(e, "stream", "invalid_type",
				      "Invalid 'stream': expected a boolean.");
	r->stream = json_is_true(stream);

	tokens = json_object_get(r->root, "max_completion_tokens");
	r->max_tokens_key = "max_completion_tokens";
	if (tokens == NULL || json_is_null(tokens)) {
		tokens = json_object_get(r->root, "max_tokens");
		r->max_tokens_key = "max_tokens";
	}
	if (tokens != NULL && !json_is_null(tokens)) {
		if (!json_is_integer(tokens) || json_integer_value(tokens) < 1)
			return request_refuse(e, r->max_tokens_key, "invalid_value",
					      "Invalid max tokens: expected a positive integer.");
		r->max_tokens = json_integer_value(tokens);
	}

	if (r->kind == REQUEST_CHAT) {
		messages = json_object_get(r->root, "messages");
		if (messages == NULL)
			return request_refuse(e, "messages", "missing_required_parameter",
					      "Missing required parameter: 'messages'.");
		if (!json_is_array(messages))
			return request_refuse(e, "messages", "invalid_type",
					      "Invalid 'messages': expected an array.");
		if (json_array_size(messages) == 0)
			return request_refuse(e, "messages", "empty_array",
					      "Invalid 'messages': empty array. Expected an array with minimum length 1.");
		r->has_tools = json_array_size(json_object_get(r->root, "tools")) > 0;
	} else if (r->kind == REQUEST_EMBEDDINGS && json_object_get(r->root, "input") == NULL) {
		return request_refuse(e, "input", "missing_required_parameter",
				      "Missing required parameter: 'input'.");
	}
	return 0;
}

int request_parse(struct request *r, enum request_kind kind, const char *body, size_t len,
		  struct request_error *e)
{
	struct request parsed;
	json_error_t jerr;

	memset(&parsed, 0, sizeof parsed);
	parsed.kind = kind;
	parsed.max_tokens = -1;
	parsed.root = json_loadb(body, len, 0, &jerr);
	if (parsed.root == NULL) {
		snprintf(e->message, sizeof e->message,
			 "We could not parse the JSON body of your request: %s (line %d, column %d).",
			 jerr.text, jerr.line, jerr.column);
		e->param = NULL;
		e->code = "invalid_json";
		goto fail;
	}
	if (!json_is_object(parsed.root)) {
		request_refuse(e, NULL, "invalid_json", "The request body must be a JSON object.");
		goto fail;
	}
	if (request_check(&parsed, e) != 0)
		goto fail;
	*r = parsed;
	return 0;
fail:
	json_decref(parsed.root);
	return -1;
}

void request_free(struct request *r)
{
	json_decref(r->root);
	r->root = NULL;
}

bool request_unchanged(const struct request *r, const struct request_changes *c)
{
	if (c->model != NULL && strcmp(c->model, r->model) != 0)
		return false;
	if (c->max_tokens > 0 && (r->max_tokens < 0 || r->max_tokens > (int64_t)c->max_tokens))
		return false;
	if ((c->drop & CONFIG_DROP_TOOLS) && r->has_tools)
		return false;
	if ((c->drop & CONFIG_DROP_STREAM) && r->stream)
		return false;
	return true;
}

char *request_rewrite(const struct request *r, const struct request_changes *c, size_t *len)
{
	/* A shallow copy shares every untouched member with the parsed body. */
	json_t *copy = json_copy(r->root);
	char *out = NULL;

	if (copy == NULL)
		goto done;
	if (c->model != NULL && json_object_set_new(copy, "model", json_string(c->model)) != 0)
		goto done;
	if (c->max_tokens > 0 && (r->max_tokens < 0 || r->max_tokens > (int64_t)c->max_tokens) &&
	    json_object_set_new(copy, r->max_tokens_key, json_integer(c->max_tokens)) != 0)
		goto done;
	if (c->drop & CONFIG_DROP_TOOLS) {
		json_object_del(copy, "tools");
		json_object_del(copy, "tool_choice");
		json_object_del(copy, "parallel_tool_calls");
	}
	if (c->drop & CONFIG_DROP_STREAM) {
		json_object_del(copy, "stream");
		json_object_del(copy, "stream_options");
	}
	out = json_dumps(copy, JSON_COMPACT);
	if (out != NULL && len != NULL)
		*len = strlen(out);
done:
	json_decref(copy);
	return out;
}

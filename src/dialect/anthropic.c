/* anthropic.c — OpenAI chat completions to and from Anthropic's Messages API: requests, whole answers and errors, bytes in and bytes out (streams: anthropic_stream.c). */
#include "anthropic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Appends v as compact JSON; out is unchanged when it does not fit. */
static int anthropic_dump(const json_t *v, struct buf *out)
{
	char *text = json_dumps(v, JSON_COMPACT);
	int rc = -1;

	if (text == NULL)
		goto fail;
	rc = buf_append_str(out, text);
fail:
	free(text);
	return rc;
}

bool anthropic_str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* A non-negative whole number at key, else 0 (absent, null or nonsense counts nothing). */
uint64_t anthropic_count(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* ---- requests ---- */

/* The translation of one request while it is made. */
struct anthropic_build {
	json_t *messages;   /* the Anthropic messages so far, roles alternating */
	struct buf system;  /* system and developer texts joined, capped like out */
	struct refusal *no; /* why the request cannot be sent, once it cannot */
};

static int anthropic_refuse(struct anthropic_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void anthropic_blame(struct anthropic_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills the refusal with why the request cannot be sent (made a whole sentence); returns -1. */
static int anthropic_refuse(struct anthropic_build *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->no->why, sizeof b->no->why, fmt, ap);
	va_end(ap);
	refusal_sentence(b->no->why, sizeof b->no->why);
	return -1;
}

/* Names the parameter a refusal about to be made is about (OpenAI's "param"). */
static void anthropic_blame(struct anthropic_build *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->no->param, sizeof b->no->param, fmt, ap);
	va_end(ap);
}

/* "Out of memory" says little to a client, but it is the only cause left once
 * every shape has been checked: the caller passes the target over. */
static int anthropic_no_memory(struct anthropic_build *b)
{
	b->no->param[0] = '\0';
	return anthropic_refuse(b, "out of memory translating the request for Anthropic");
}

static json_t *anthropic_text_block(const json_t *text)
{
	return json_pack("{s:s,s:O}", "type", "text", "text", text);
}

/* An image block for an image_url part's URL: a data: URL carries the image
 * itself (base64 only, which is what every OpenAI client sends), anything
 * else is fetched by Anthropic. */
static int anthropic_image(struct anthropic_build *b, size_t i, size_t k, const json_t *url, json_t **block)
{
	const char *u = json_string_value(url), *comma, *semi;
	size_t n = json_string_length(url);

	if (n > 5 && strncmp(u, "data:", 5) == 0) {
		comma = memchr(u, ',', n);
		if (comma == NULL || comma - u < 12 || strncmp(comma - 7, ";base64", 7) != 0) {
			anthropic_blame(b, "messages[%zu].content[%zu].image_url.url", i, k);
			return anthropic_refuse(b, "messages[%zu].content[%zu]: an image data URL must be base64", i, k);
		}
		semi = memchr(u + 5, ';', (size_t)(comma - 7 - (u + 5)) + 1);
		*block = json_pack("{s:s,s:{s:s,s:s%,s:s%}}", "type", "image", "source", "type", "base64",
				   "media_type", u + 5, (size_t)(semi - (u + 5)),
				   "data", comma + 1, n - (size_t)(comma + 1 - u));
	} else
		*block = json_pack("{s:s,s:{s:s,s:O}}", "type", "image", "source", "type", "url", "url", url);
	return *block != NULL ? 0 : anthropic_no_memory(b);
}

/* One content part of messages[i] as a block; *block is NULL for an empty
 * text, which Anthropic refuses and which says nothing anyway. */
static int anthropic_part(struct anthropic_build *b, size_t i, size_t k, const json_t *part, json_t **block)
{
	json_t *type = json_object_get(part, "type"), *text, *image, *url;

	*block = NULL;
	/* Every refusal below is about this part. */
	anthropic_blame(b, "messages[%zu].content[%zu]", i, k);
	if (!json_is_object(part))
		return anthropic_refuse(b, "messages[%zu].content[%zu] is not an object", i, k);
	if (anthropic_str_is(type, "text")) {
		text = json_object_get(part, "text");
		if (!json_is_string(text))
			return anthropic_refuse(b, "messages[%zu].content[%zu].text is not a string", i, k);
		if (json_string_length(text) == 0)
			return 0;
		*block = anthropic_text_block(text);
		return *block != NULL ? 0 : anthropic_no_memory(b);
	}
	if (anthropic_str_is(type, "image_url")) {
		image = json_object_get(part, "image_url");
		/* Some clients send the URL itself rather than {url, detail}. */
		url = json_is_string(image) ? image : json_object_get(image, "url");
		if (!json_is_string(url))
			return anthropic_refuse(b, "messages[%zu].content[%zu].image_url has no url", i, k);
		return anthropic_image(b, i, k, url, block);
	}
	anthropic_blame(b, "messages[%zu].content[%zu].type", i, k);
	return anthropic_refuse(b, "messages[%zu].content[%zu]: part type \"%s\" cannot be sent to Anthropic", i, k,
				json_is_string(type) ? json_string_value(type) : "(none)");
}

/* The content of messages[i] in Anthropic's terms: a string stays a string,
 * parts become blocks. *content is NULL when nothing is left to say. */
static int anthropic_content(struct anthropic_build *b, size_t i, const json_t *content, json_t **made)
{
	json_t *blocks, *part, *block;
	size_t k;

	*made = NULL;
	if (content == NULL || json_is_null(content))
		return 0;
	if (json_is_string(content)) {
		if (json_string_length(content) > 0)
			*made = json_incref((json_t *)content);
		return 0;
	}
	if (!json_is_array(content))
		return anthropic_refuse(b, "messages[%zu].content is neither a string nor an array", i);
	if ((blocks = json_array()) == NULL)
		return anthropic_no_memory(b);
	json_array_foreach(content, k, part) {
		if (anthropic_part(b, i, k, part, &block) != 0)
			goto fail;
		if (block != NULL && json_array_append_new(blocks, block) != 0) {
			anthropic_no_memory(b);
			goto fail;
		}
	}
	if (json_array_size(blocks) > 0)
		*made = blocks;
	else
		json_decref(blocks);
	return 0;
fail:
	json_decref(blocks);
	return -1;
}

/* content as a list of blocks: a string becomes one text block. Takes content. */
static json_t *anthropic_blocks(json_t *content)
{
	json_t *blocks;

	if (content == NULL)
		return json_array();
	if (json_is_array(content))
		return content;
	blocks = json_pack("[o]", anthropic_text_block(content));
	json_decref(content);
	return blocks;
}

/*
 * Adds a message (content taken; NULL adds nothing). One of the same role as
 * the last is merged into it, since Anthropic wants roles to alternate: two
 * user turns in a row, or tool results and the user's next words, become one.
 */
static int anthropic_push(struct anthropic_build *b, const char *role, json_t *content)
{
	size_t n = json_array_size(b->messages);
	json_t *last = n > 0 ? json_array_get(b->messages, n - 1) : NULL, *merged;

	if (content == NULL)
		return 0;
	if (last != NULL && anthropic_str_is(json_object_get(last, "role"), role)) {
		/* New arrays rather than appending in place: a string content is
		 * still the request's own node, which another target reuses. */
		merged = anthropic_blocks(json_incref(json_object_get(last, "content")));
		content = anthropic_blocks(content);
		if (merged == NULL || content == NULL || json_array_extend(merged, content) != 0 ||
		    json_object_set_new(last, "content", merged) != 0) {
			json_decref(content);
			return anthropic_no_memory(b);
		}
		json_decref(content);
		return 0;
	}
	if (json_array_append_new(b->messages, json_pack("{s:s,s:o}", "role", role, "content", content)) != 0)
		return anthropic_no_memory(b);
	return 0;
}

/* A system or developer message's texts, added to the system prompt. */
static int anthropic_system(struct anthropic_build *b, size_t i, const json_t *content)
{
	json_t *part, *text;
	size_t k, n = json_is_array(content) ? json_array_size(content) : 1;

	if (content == NULL || json_is_null(content))
		return 0;
	if (!json_is_string(content) && !json_is_array(content))
		return anthropic_refuse(b, "messages[%zu].content is neither a string nor an array", i);
	for (k = 0; k < n; k++) {
		part = json_is_array(content) ? json_array_get(content, k) : NULL;
		text = part != NULL ? json_object_get(part, "text") : (json_t *)content;
		if (part != NULL && (!anthropic_str_is(json_object_get(part, "type"), "text") || !json_is_string(text)))
			return anthropic_refuse(b, "messages[%zu].content[%zu]: a system message holds text parts only",
						i, k);
		if (json_string_length(text) == 0)
			continue;
		if ((b->system.len > 0 && buf_append(&b->system, "\n\n", 2) != 0) ||
		    buf_append(&b->system, json_string_value(text), json_string_length(text)) != 0)
			return anthropic_refuse(b, "the system prompt is too large");
	}
	return 0;
}

/* One of an assistant's tool_calls as a tool_use block. Arguments that are not
 * a JSON object become {}: Anthropic wants an object, and the call is history
 * the model already made, not something to refuse the whole request over. */
static int anthropic_tool_use(struct anthropic_build *b, size_t i, size_t k, const json_t *call, json_t **block)
{
	json_t *function = json_object_get(call, "function"), *id = json_object_get(call, "id");
	json_t *name = json_object_get(function, "name"), *arguments = json_object_get(function, "arguments");
	json_t *input = NULL;

	if (!json_is_object(call) || !json_is_string(id) || !json_is_string(name))
		return anthropic_refuse(b, "messages[%zu].tool_calls[%zu] needs an id and a function name", i, k);
	if (json_is_string(arguments))
		input = json_loadb(json_string_value(arguments), json_string_length(arguments), 0, NULL);
	else if (json_is_object(arguments))
		input = json_incref(arguments);
	if (!json_is_object(input)) {
		json_decref(input);
		input = json_object();
	}
	*block = json_pack("{s:s,s:O,s:O,s:o}", "type", "tool_use", "id", id, "name", name, "input", input);
	return *block != NULL ? 0 : anthropic_no_memory(b);
}

/* An assistant message: its text, then its tool calls as tool_use blocks. */
static int anthropic_assistant(struct anthropic_build *b, size_t i, const json_t *m)
{
	json_t *calls = json_object_get(m, "tool_calls"), *content, *call, *block = NULL;
	size_t k;

	if (anthropic_content(b, i, json_object_get(m, "content"), &content) != 0)
		return -1;
	if (json_is_array(calls) && json_array_size(calls) > 0) {
		if ((content = anthropic_blocks(content)) == NULL)
			return anthropic_no_memory(b);
		json_array_foreach(calls, k, call) {
			if (anthropic_tool_use(b, i, k, call, &block) != 0)
				goto fail;
			if (json_array_append_new(content, block) != 0) {
				anthropic_no_memory(b);
				goto fail;
			}
		}
	}
	return anthropic_push(b, "assistant", content);
fail:
	json_decref(content);
	return -1;
}

/* A tool message: a user turn holding one tool_result block. */
static int anthropic_tool_result(struct anthropic_build *b, size_t i, const json_t *m)
{
	json_t *id = json_object_get(m, "tool_call_id"), *content, *block;

	if (!json_is_string(id))
		return anthropic_refuse(b, "messages[%zu]: a tool message needs a tool_call_id", i);
	if (anthropic_content(b, i, json_object_get(m, "content"), &content) != 0)
		return -1;
	block = json_pack("{s:s,s:O}", "type", "tool_result", "tool_use_id", id);
	if (block == NULL || (content != NULL && json_object_set_new(block, "content", content) != 0)) {
		json_decref(block);
		return anthropic_no_memory(b);
	}
	/* Checked here: push takes NULL for "nothing to say", not for a failure. */
	if ((content = json_pack("[o]", block)) == NULL)
		return anthropic_no_memory(b);
	return anthropic_push(b, "user", content);
}

static int anthropic_message(struct anthropic_build *b, size_t i, const json_t *m)
{
	json_t *role = json_object_get(m, "role"), *content;

	/* Every refusal below is about this message (a part names itself). */
	anthropic_blame(b, "messages[%zu]", i);
	if (!json_is_object(m))
		return anthropic_refuse(b, "messages[%zu] is not an object", i);
	if (anthropic_str_is(role, "system") || anthropic_str_is(role, "developer"))
		return anthropic_system(b, i, json_object_get(m, "content"));
	if (anthropic_str_is(role, "user")) {
		if (anthropic_content(b, i, json_object_get(m, "content"), &content) != 0)
			return -1;
		return anthropic_push(b, "user", content);
	}
	if (anthropic_str_is(role, "assistant"))
		return anthropic_assistant(b, i, m);
	if (anthropic_str_is(role, "tool"))
		return anthropic_tool_result(b, i, m);
	return anthropic_refuse(b, "messages[%zu]: role \"%s\" cannot be sent to Anthropic", i,
				json_is_string(role) ? json_string_value(role) : "(none)");
}

/* Every message, then "Continue." first when the conversation does not open
 * with the user, as Anthropic requires. */
static int anthropic_messages(struct anthropic_build *b, const json_t *openai)
{
	json_t *list = json_object_get(openai, "messages"), *m, *first;
	size_t i;

	anthropic_blame(b, "messages");
	if (!json_is_array(list))
		return anthropic_refuse(b, "messages is not an array");
	json_array_foreach(list, i, m) {
		if (anthropic_message(b, i, m) != 0)
			return -1;
	}
	/* What follows is about the whole list, or not about the messages at all. */
	if (json_array_size(b->messages) == 0)
		anthropic_blame(b, "messages");
	else
		b->no->param[0] = '\0';
	if (json_array_size(b->messages) == 0)
		return anthropic_refuse(b, "no message is left to send to Anthropic (system messages alone are not a conversation)");
	if (!anthropic_str_is(json_object_get(json_array_get(b->messages, 0), "role"), "user")) {
		first = json_pack("{s:s,s:s}", "role", "user", "content", "Continue.");
		if (json_array_insert_new(b->messages, 0, first) != 0)
			return anthropic_no_memory(b);
	}
	return 0;
}

/* The client's own tool_choice in Anthropic's terms; *made NULL when it gave none. */
static int anthropic_client_choice(struct anthropic_build *b, const json_t *choice, json_t **made)
{
	json_t *name;

	*made = NULL;
	if (choice == NULL || json_is_null(choice))
		return 0;
	if (anthropic_str_is(choice, "auto"))
		*made = json_pack("{s:s}", "type", "auto");
	else if (anthropic_str_is(choice, "none"))
		*made = json_pack("{s:s}", "type", "none");
	else if (anthropic_str_is(choice, "required"))
		*made = json_pack("{s:s}", "type", "any");
	else {
		name = json_object_get(json_object_get(choice, "function"), "name");
		if (!anthropic_str_is(json_object_get(choice, "type"), "function") || !json_is_string(name)) {
			anthropic_blame(b, "tool_choice");
			return anthropic_refuse(b, "tool_choice has no Anthropic form");
		}
		*made = json_pack("{s:s,s:O}", "type", "tool", "name", name);
	}
	return *made != NULL ? 0 : anthropic_no_memory(b);
}

/*
 * The tool_choice for clients tools (a count) and, when answer, the answer
 * tool. A structured answer comes only as the answer tool's call, so the
 * model must call a tool: that one when it is the only one it may call,
 * any when the client's tools may be called first (the next turn, with
 * their results, ends with the answer tool). A client's choice of one
 * function of its own still wins, as OpenAI would call it too.
 */
static int anthropic_tool_choice(struct anthropic_build *b, const json_t *openai, size_t client, bool answer,
				 json_t **made)
{
	json_t *choice = json_object_get(openai, "tool_choice");

	*made = NULL;
	if (!answer)
		return anthropic_client_choice(b, choice, made);
	if (client == 0 || anthropic_str_is(choice, "none"))
		*made = json_pack("{s:s,s:s}", "type", "tool", "name", ANTHROPIC_FORMAT_TOOL);
	else if (choice == NULL || json_is_null(choice) || json_is_string(choice))
		*made = json_pack("{s:s}", "type", "any");
	else
		return anthropic_client_choice(b, choice, made);
	return *made != NULL ? 0 : anthropic_no_memory(b);
}

/* The client's function tools, appended to list as Anthropic tools. */
static int anthropic_client_tools(struct anthropic_build *b, const json_t *tools, json_t *list)
{
	json_t *tool, *function, *name, *description, *parameters, *made;
	size_t k;

	json_array_foreach(tools, k, tool) {
		function = json_object_get(tool, "function");
		name = json_object_get(function, "name");
		if (!anthropic_str_is(json_object_get(tool, "type"), "function") || !json_is_string(name)) {
			anthropic_blame(b, "tools[%zu]", k);
			return anthropic_refuse(b, "tools[%zu]: only function tools with a name can be sent to Anthropic", k);
		}
		/* Its calls would come back as content, the answer tool's way. */
		if (anthropic_format_is_answer(name)) {
			anthropic_blame(b, "tools[%zu].function.name", k);
			return anthropic_refuse(b, "tools[%zu]: the name %s is detour's own, for response_format", k,
						ANTHROPIC_FORMAT_TOOL);
		}
		description = json_object_get(function, "description");
		parameters = json_object_get(function, "parameters");
		made = json_pack("{s:O}", "name", name);
		if (made == NULL || (json_is_string(description) && json_object_set(made, "description", description) != 0) ||
		    json_object_set_new(made, "input_schema", json_is_object(parameters) ? json_incref(parameters)
									   : json_pack("{s:s}", "type", "object")) != 0) {
			json_decref(made);
			return anthropic_no_memory(b);
		}
		/* append_new frees made when it fails. */
		if (json_array_append_new(list, made) != 0)
			return anthropic_no_memory(b);
	}
	return 0;
}

/* tools (the client's unless dropped, and the answer tool for
 * response_format), tool_choice and parallel_tool_calls. A tool_choice
 * without tools is left out: Anthropic refuses one. */
static int anthropic_tools(struct anthropic_build *b, const json_t *openai, bool drop_tools, json_t *root)
{
	json_t *tools = drop_tools ? NULL : json_object_get(openai, "tools");
	json_t *list = NULL, *answer = NULL, *made = NULL;
	size_t client = json_is_array(tools) ? json_array_size(tools) : 0;
	int rc = -1;

	if (anthropic_format_tool(openai, &answer, b->no->why, sizeof b->no->why) != 0) {
		snprintf(b->no->param, sizeof b->no->param, "response_format");
		refusal_sentence(b->no->why, sizeof b->no->why);
		goto fail;
	}
	if (client == 0 && answer == NULL) {
		rc = 0;
		goto fail;
	}
	if ((list = json_array()) == NULL) {
		anthropic_no_memory(b);
		goto fail;
	}
	if (anthropic_client_tools(b, tools, list) != 0)
		goto fail;
	if ((answer != NULL && json_array_append(list, answer) != 0) || json_object_set(root, "tools", list) != 0) {
		anthropic_no_memory(b);
		goto fail;
	}
	if (anthropic_tool_choice(b, openai, client, answer != NULL, &made) != 0)
		goto fail;
	if (json_is_false(json_object_get(openai, "parallel_tool_calls"))) {
		if (made == NULL)
			made = json_pack("{s:s}", "type", "auto");
		/* {type:none} takes no such flag, and no call is made anyway. */
		if (made == NULL || (!anthropic_str_is(json_object_get(made, "type"), "none") &&
				     json_object_set_new(made, "disable_parallel_tool_use", json_true()) != 0)) {
			anthropic_no_memory(b);
			goto fail;
		}
	}
	if (made != NULL && json_object_set(root, "tool_choice", made) != 0) {
		anthropic_no_memory(b);
		goto fail;
	}
	rc = 0;
fail:
	json_decref(made);
	json_decref(list);
	json_decref(answer);
	return rc;
}

/*
 * OpenAI parameters Anthropic has no form for. Each is refused when it would
 * change the answer and left out at its "off" value, so a client that always
 * sends logprobs: false or a zero penalty is still served. seed is left out
 * whatever it is: OpenAI only tries to honour it, and says so.
 */
static int anthropic_parameters(struct anthropic_build *b, const json_t *openai)
{
	json_t *top = json_object_get(openai, "top_logprobs");

	if (json_is_true(json_object_get(openai, "logprobs")) || (json_is_integer(top) && json_integer_value(top) > 0)) {
		anthropic_blame(b, json_is_true(json_object_get(openai, "logprobs")) ? "logprobs" : "top_logprobs");
		return anthropic_refuse(b, "Anthropic returns no log probabilities, so logprobs cannot be asked of it.");
	}
	if (json_is_number(json_object_get(openai, "presence_penalty")) &&
	    json_number_value(json_object_get(openai, "presence_penalty")) != 0) {
		anthropic_blame(b, "presence_penalty");
		return anthropic_refuse(b, "Anthropic has no presence penalty, so presence_penalty cannot be sent to it.");
	}
	if (json_is_number(json_object_get(openai, "frequency_penalty")) &&
	    json_number_value(json_object_get(openai, "frequency_penalty")) != 0) {
		anthropic_blame(b, "frequency_penalty");
		return anthropic_refuse(b, "Anthropic has no frequency penalty, so frequency_penalty cannot be sent to it.");
	}
	return 0;
}

/* max_completion_tokens wins over max_tokens, as in request_parse. */
static json_int_t anthropic_max_tokens(const json_t *openai, const struct anthropic_options *o)
{
	json_t *v = json_object_get(openai, "max_completion_tokens");

	if (!json_is_integer(v) || json_integer_value(v) < 1)
		v = json_object_get(openai, "max_tokens");
	if (json_is_integer(v) && json_integer_value(v) >= 1) {
		if (o->max_tokens_cap > 0 && json_integer_value(v) > (json_int_t)o->max_tokens_cap)
			return (json_int_t)o->max_tokens_cap;
		return json_integer_value(v);
	}
	return o->max_tokens_cap > 0 ? (json_int_t)o->max_tokens_cap : (json_int_t)o->default_max_tokens;
}

/* stop as stop_sequences: a string or the strings of an array; empty ones say nothing. */
static int anthropic_stop(const json_t *stop, json_t *root)
{
	json_t *list = json_array(), *s;
	size_t k, n = json_is_array(stop) ? json_array_size(stop) : 1;

	if (list == NULL)
		return -1;
	for (k = 0; k < n; k++) {
		s = json_is_array(stop) ? json_array_get(stop, k) : (json_t *)stop;
		if (json_is_string(s) && json_string_length(s) > 0 && json_array_append(list, s) != 0)
			goto fail;
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		return 0;
	}
	return json_object_set_new(root, "stop_sequences", list);
fail:
	json_decref(list);
	return -1;
}

/* temperature, top_p, stop, user and stream. */
static int anthropic_sampling(const json_t *openai, const struct anthropic_options *o, json_t *root)
{
	json_t *temperature = json_object_get(openai, "temperature"), *top_p = json_object_get(openai, "top_p");
	json_t *user = json_object_get(openai, "user");
	double t;
	int rc = 0;

	if (json_is_number(temperature)) {
		/* OpenAI goes to 2, Anthropic to 1: the hottest either allows. */
		t = json_number_value(temperature);
		rc |= json_object_set_new(root, "temperature", json_real(t < 0 ? 0 : t > 1 ? 1 : t));
	}
	if (json_is_number(top_p))
		rc |= json_object_set_new(root, "top_p", json_real(json_number_value(top_p)));
	rc |= anthropic_stop(json_object_get(openai, "stop"), root);
	if (json_is_string(user) && json_string_length(user) > 0)
		rc |= json_object_set_new(root, "metadata", json_pack("{s:O}", "user_id", user));
	if (o->stream)
		rc |= json_object_set_new(root, "stream", json_true());
	return rc;
}

/* n: Anthropic gives one answer a request, and n copies of it are not n answers. */
static int anthropic_choices(struct anthropic_build *b, const json_t *openai)
{
	json_t *n = json_object_get(openai, "n");

	if (!json_is_integer(n) || json_integer_value(n) <= 1)
		return 0;
	anthropic_blame(b, "n");
	return anthropic_refuse(b, "n is %" JSON_INTEGER_FORMAT ", but Anthropic gives one choice a request: "
				"leave n out or set it to 1", json_integer_value(n));
}

int anthropic_request(json_t *openai, const struct anthropic_options *o, struct buf *out, struct refusal *no)
{
	struct anthropic_build b = { .messages = json_array(), .no = no };
	json_t *root = json_object(), *model = json_object_get(openai, "model");
	size_t before = out->len;
	int rc = -1, failed = 0;

	refusal_clear(no);
	/* The system prompt cannot be longer than the body it goes in. */
	buf_init(&b.system, out->max);
	if (root == NULL || b.messages == NULL) {
		anthropic_no_memory(&b);
		goto fail;
	}
	if (!json_is_object(openai)) {
		anthropic_refuse(&b, "the request is not a JSON object");
		goto fail;
	}
	if (anthropic_choices(&b, openai) != 0 || anthropic_parameters(&b, openai) != 0 ||
	    anthropic_messages(&b, openai) != 0)
		goto fail;
	failed |= json_object_set_new(root, "model", o->model != NULL ? json_string(o->model)
						: json_is_string(model) ? json_incref(model) : json_string(""));
	failed |= json_object_set_new(root, "max_tokens", json_integer(anthropic_max_tokens(openai, o)));
	if (b.system.len > 0)
		failed |= json_object_set_new(root, "system", json_stringn(b.system.data, b.system.len));
	failed |= json_object_set(root, "messages", b.messages);
	failed |= anthropic_sampling(openai, o, root);
	if (failed != 0) {
		anthropic_no_memory(&b);
		goto fail;
	}
	if (anthropic_tools(&b, openai, o->drop_tools, root) != 0)
		goto fail;
	if (anthropic_dump(root, out) != 0) {
		anthropic_refuse(&b, "the request translated for Anthropic is larger than %zu bytes", out->max);
		goto fail;
	}
	rc = 0;
fail:
	if (rc != 0)
		buf_truncate(out, before);
	buf_free(&b.system);
	json_decref(b.messages);
	json_decref(root);
	return rc;
}

/* ---- answers ---- */

const char *anthropic_finish_reason(const char *stop_reason)
{
	if (stop_reason == NULL)
		return "stop";
	if (strcmp(stop_reason, "max_tokens") == 0)
		return "length";
	if (strcmp(stop_reason, "tool_use") == 0)
		return "tool_calls";
	if (strcmp(stop_reason, "refusal") == 0)
		return "content_filter";
	return "stop";
}

/* Prompt tokens as OpenAI counts them: cached ones included. */
uint64_t anthropic_input_tokens(const json_t *usage)
{
	return anthropic_count(usage, "input_tokens") + anthropic_count(usage, "cache_creation_input_tokens") +
	       anthropic_count(usage, "cache_read_input_tokens");
}

json_t *anthropic_usage(uint64_t input, uint64_t cached, uint64_t output)
{
	json_t *usage = json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)input, "completion_tokens",
				  (json_int_t)output, "total_tokens", (json_int_t)(input + output));

	/* Where OpenAI clients look for what the prompt cache saved. */
	if (usage != NULL && cached > 0 &&
	    json_object_set_new(usage, "prompt_tokens_details", json_pack("{s:I}", "cached_tokens", (json_int_t)cached)) != 0) {
		json_decref(usage);
		return NULL;
	}
	return usage;
}

/* A tool_use block as an OpenAI tool call, its input as a JSON string. */
static json_t *anthropic_tool_call(const json_t *block)
{
	json_t *input = json_object_get(block, "input"), *id = json_object_get(block, "id");
	json_t *name = json_object_get(block, "name"), *call;
	char *arguments = input != NULL ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	call = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", json_is_string(id) ? json_string_value(id) : "",
			 "type", "function", "function", "name", json_is_string(name) ? json_string_value(name) : "",
			 "arguments", arguments != NULL ? arguments : "{}");
	free(arguments);
	return call;
}

/* v as a JSON string holding its compact JSON text; NULL: no memory. */
static json_t *anthropic_json_text(const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_t *made = text != NULL ? json_string(text) : NULL;

	free(text);
	return made;
}

/* The pieces of an answer's content blocks, sorted by what they become. */
struct anthropic_gathered {
	struct buf text;        /* text blocks joined */
	struct buf reasoning;   /* thinking blocks joined */
	json_t *calls;          /* tool calls, the answer tool's left out */
	const json_t *answer;   /* the answer tool's input, borrowed; NULL: not called */
};

static int anthropic_gather(struct anthropic_gathered *g, const json_t *content)
{
	json_t *block;
	size_t k;

	json_array_foreach(content, k, block) {
		json_t *type = json_object_get(block, "type"), *t = json_object_get(block, "text");
		json_t *thought = json_object_get(block, "thinking");

		/* Redacted thinking and server tool blocks have no OpenAI form and are left out. */
		if (anthropic_str_is(type, "text") && json_is_string(t)) {
			if (buf_append(&g->text, json_string_value(t), json_string_length(t)) != 0)
				return -1;
		} else if (anthropic_str_is(type, "thinking") && json_is_string(thought)) {
			if (buf_append(&g->reasoning, json_string_value(thought), json_string_length(thought)) != 0)
				return -1;
		} else if (anthropic_str_is(type, "tool_use")) {
			if (anthropic_format_is_answer(json_object_get(block, "name")))
				g->answer = json_object_get(block, "input");
			else if (json_array_append_new(g->calls, anthropic_tool_call(block)) != 0)
				return -1;
		}
	}
	return 0;
}

/* The message of the answer's one choice. */
static json_t *anthropic_message_of(const struct anthropic_gathered *g)
{
	json_t *message, *content;

	/* A structured answer is the answer tool's input alone: text around
	 * it would not parse as the object the client asked for. */
	if (g->answer != NULL)
		content = anthropic_json_text(g->answer);
	else
		content = g->text.len > 0 ? json_stringn(g->text.data, g->text.len) : json_null();
	message = json_pack("{s:s,s:o,s:n}", "role", "assistant", "content", content, "refusal");
	if (message == NULL)
		return NULL;
	if ((g->reasoning.len > 0 &&
	     json_object_set_new(message, "reasoning_content", json_stringn(g->reasoning.data, g->reasoning.len)) != 0) ||
	    (json_array_size(g->calls) > 0 && json_object_set(message, "tool_calls", g->calls) != 0)) {
		json_decref(message);
		return NULL;
	}
	return message;
}

int anthropic_response(const char *body, size_t len, uint64_t created_unix, struct buf *out)
{
	json_t *root = json_loadb(body, len, 0, NULL), *content, *id, *model, *stop, *usage;
	json_t *message = NULL, *answer = NULL;
	struct anthropic_gathered g = { .calls = json_array(), .answer = NULL };
	const char *finish;
	size_t before = out->len;
	int rc = -1;

	/* Text comes out no longer than the body it was escaped in. */
	buf_init(&g.text, len);
	buf_init(&g.reasoning, len);
	content = json_object_get(root, "content");
	if (!json_is_object(root) || !anthropic_str_is(json_object_get(root, "type"), "message") ||
	    !json_is_array(content) || g.calls == NULL || anthropic_gather(&g, content) != 0)
		goto fail;
	if ((message = anthropic_message_of(&g)) == NULL)
		goto fail;
	id = json_object_get(root, "id");
	model = json_object_get(root, "model");
	stop = json_object_get(root, "stop_reason");
	usage = json_object_get(root, "usage");
	finish = anthropic_finish_reason(json_is_string(stop) ? json_string_value(stop) : NULL);
	/* Calling the answer tool is how the model answered, not a call for the client to make. */
	if (g.answer != NULL && json_array_size(g.calls) == 0 && strcmp(finish, "tool_calls") == 0)
		finish = "stop";
	answer = json_pack("{s:s+,s:s,s:I,s:s,s:[{s:i,s:O,s:n,s:s}],s:o}",
			   "id", "chatcmpl-", json_is_string(id) ? json_string_value(id) : "",
			   "object", "chat.completion",
			   "created", (json_int_t)created_unix,
			   "model", json_is_string(model) ? json_string_value(model) : "",
			   "choices", "index", 0, "message", message, "logprobs", "finish_reason", finish,
			   "usage", anthropic_usage(anthropic_input_tokens(usage), anthropic_count(usage, "cache_read_input_tokens"),
						    anthropic_count(usage, "output_tokens")));
	if (answer == NULL || anthropic_dump(answer, out) != 0)
		goto fail;
	rc = 0;
fail:
	if (rc != 0)
		buf_truncate(out, before);
	buf_free(&g.text);
	buf_free(&g.reasoning);
	json_decref(answer);
	json_decref(message);
	json_decref(g.calls);
	json_decref(root);
	return rc;
}

/* ---- errors ---- */

static const char *anthropic_error_type(unsigned status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 429: return "rate_limit_error";
	default: break;
	}
	/* 400, 404, 413 and any other 4xx are about the request; 5xx and 529 are not. */
	return status >= 400 && status < 500 ? "invalid_request_error" : "server_error";
}

int anthropic_error(unsigned status, const char *body, size_t len, struct buf *out)
{
	json_t *root = json_loadb(body, len, 0, NULL), *error, *message, *code, *made = NULL;
	char words[96];
	size_t before = out->len;
	int rc = -1;

	error = json_object_get(root, "error");
	message = json_object_get(error, "message");
	code = json_object_get(error, "type");
	if (json_is_string(message)) {
		made = json_pack("{s:{s:O,s:s,s:n,s:O}}", "error", "message", message, "type", anthropic_error_type(status),
				 "param", "code", json_is_string(code) ? code : json_null());
	} else {
		/* An HTML page from a proxy in front of Anthropic, or nothing: its
		 * bytes would say nothing to an OpenAI client. */
		snprintf(words, sizeof words, "the Anthropic upstream answered HTTP %u", status);
		made = json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message", words, "type", anthropic_error_type(status),
				 "param", "code");
	}
	if (made == NULL || anthropic_dump(made, out) != 0)
		goto fail;
	rc = 0;
fail:
	if (rc != 0)
		buf_truncate(out, before);
	json_decref(made);
	json_decref(root);
	return rc;
}

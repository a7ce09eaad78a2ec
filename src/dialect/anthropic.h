/* anthropic.h — OpenAI chat completions to and from Anthropic's Messages API: requests, answers, streams and errors, bytes in and bytes out (anthropic.c, anthropic_stream.c). */
#ifndef DETOUR_ANTHROPIC_H
#define DETOUR_ANTHROPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "refusal.h"

/* What the target and the degradation level decide about one request. */
struct anthropic_options {
	const char *model;          /* the model to ask for (the target's, else the client's) */
	unsigned max_tokens_cap;    /* 0: none; else max_tokens is at most this */
	unsigned default_max_tokens;/* when the request names no limit (Anthropic requires one) */
	bool drop_tools;            /* leave tools and tool_choice out */
	bool stream;                /* ask for a stream */
};

/*
 * Appends to out the Messages API body for the OpenAI chat request (a parsed
 * JSON object that passed request_parse):
 * - system and developer messages become "system" (texts joined with "\n\n");
 * - user and assistant messages keep their role; a tool message becomes a user
 *   message with a tool_result block (tool_use_id, content); an assistant's
 *   tool_calls become tool_use blocks (id, name, input = the parsed arguments,
 *   {} when they are not a JSON object) after its text;
 * - consecutive messages of the same role are merged into one (their blocks in
 *   order), so roles alternate; when the first is not user, a user message
 *   with the text "Continue." is put first;
 * - string content stays a string unless merged; parts map: text → text,
 *   image_url with a data: URL → image with a base64 source (media_type from
 *   the URL), other image_url → image with a url source; other part types are
 *   refused;
 * - max_tokens (or max_completion_tokens) is always set: the request's, capped
 *   by max_tokens_cap, else the cap, else default_max_tokens;
 * - temperature (clamped to [0, 1]), top_p, stop (a string or array) →
 *   stop_sequences, user → metadata.user_id, stream;
 * - tools [{type:function,function:{name,description,parameters}}] → [{name,
 *   description, input_schema (parameters, or {"type":"object"})}];
 *   tool_choice "auto" → {type:auto}, "none" → {type:none}, "required" →
 *   {type:any}, {type:function,function:{name}} → {type:tool,name};
 *   parallel_tool_calls false → disable_parallel_tool_use on the tool_choice
 *   (an {type:auto} one when the request had none);
 * - response_format json_schema or json_object → one more tool, the answer
 *   tool (anthropic_format_tool), which the model must call: tool_choice
 *   {type:tool} when the client has no tools (or dropped ones, or
 *   tool_choice "none"), {type:any} when it has tools and lets the model
 *   choose; the answer translations turn its call back into content;
 * - n above 1 is refused (param "n"): Anthropic gives one choice a request;
 * - logprobs true, top_logprobs above 0, a non-zero presence_penalty or
 *   frequency_penalty are refused (Anthropic has no form for them); the same
 *   parameters at their "off" values are left out, and so is seed, which
 *   OpenAI itself only tries to honour (an answer is no more repeatable
 *   without it than with it on another model); the rest are left out.
 * Returns 0, or -1 with a whole sentence in no->why (for a 400 the client can
 * read) and, when one parameter is at fault, its path in no->param
 * ("messages[0].content[1].type") when the request cannot be expressed (n
 * above 1, an unknown part type, no message left, a message that is not an
 * object, a parameter above) or out is full.
 */
int anthropic_request(json_t *openai, const struct anthropic_options *o, struct buf *out, struct refusal *no);

/* Pieces the request, answer and stream translations share. */
bool anthropic_str_is(const json_t *v, const char *s);         /* v is the string s */
uint64_t anthropic_count(const json_t *obj, const char *key);  /* a whole number > 0 at key, else 0 */
uint64_t anthropic_input_tokens(const json_t *usage);          /* input tokens, cached ones included */
/* OpenAI's usage object, with prompt_tokens_details.cached_tokens when cached (the cache reads,
 * part of input) is above 0; NULL: no memory. */
json_t *anthropic_usage(uint64_t input, uint64_t cached, uint64_t output);

/*
 * Structured output (anthropic_format.c). Anthropic has no response_format;
 * a tool whose input schema is the wanted schema, called by force, gives the
 * same object, and the translation hands its input back as the content.
 * The tool's name is detour's own, so the answers are understood without
 * knowing the request; a client tool of that name is refused.
 */
#define ANTHROPIC_FORMAT_TOOL "detour_json_answer"

/* True when name (a JSON value) names the answer tool. */
bool anthropic_format_is_answer(const json_t *name);

/*
 * The answer tool for the request's response_format, as a new Anthropic tool
 * {name, description, input_schema} in *tool: json_schema → its schema
 * (which must be an object schema; none: any object), json_object → any
 * object. *tool is NULL when there is no response_format, it is null, or its
 * type is "text". Returns 0, or -1 with err filled when response_format
 * cannot be expressed (an unknown type, a schema that is not an object
 * schema) or memory ran out.
 */
int anthropic_format_tool(const json_t *openai, json_t **tool, char *err, size_t errlen);

/* OpenAI's finish_reason for an Anthropic stop_reason: end_turn, stop_sequence → "stop",
 * max_tokens → "length", tool_use → "tool_calls", refusal → "content_filter", else "stop". */
const char *anthropic_finish_reason(const char *stop_reason);

/*
 * Appends to out the OpenAI chat.completion for an Anthropic message answer:
 * id "chatcmpl-" + the message id, object "chat.completion", created
 * created_unix, the answer's model, one choice with message {role:
 * "assistant", content: the text blocks joined (null when there is no text),
 * or the answer tool's input as compact JSON when it was called (the text
 * then left out), refusal: null, reasoning_content: the thinking blocks
 * joined (when there are any), tool_calls from the other tool_use blocks
 * (id, type "function", function {name, arguments: the input as compact
 * JSON}) when there are any}, logprobs null, finish_reason from stop_reason
 * ("stop" when the answer tool was the only call); usage {prompt_tokens:
 * input_tokens (+ cache tokens), completion_tokens: output_tokens,
 * total_tokens, prompt_tokens_details.cached_tokens: the cache reads, when
 * there are any}. Returns 0, or -1 when body is not an Anthropic message or
 * out is full.
 */
int anthropic_response(const char *body, size_t len, uint64_t created_unix, struct buf *out);

/*
 * Appends to out an OpenAI-shaped error body for an Anthropic error answer
 * ({"type":"error","error":{"type","message"}}): {"error":{"message",
 * "type" (invalid_request_error for 400/404/413, authentication_error for 401,
 * permission_error for 403, rate_limit_error for 429, server_error for 5xx and
 * 529), "param":null, "code" (Anthropic's error type)}}. A body that is not
 * Anthropic's shape gives a message naming the status. Returns 0 or -1.
 */
int anthropic_error(unsigned status, const char *body, size_t len, struct buf *out);

/* What one stream event meant. */
enum anthropic_event {
	ANTHROPIC_EVENT_NONE,     /* nothing for the client (ping, block stops) or only the opening chunk */
	ANTHROPIC_EVENT_CONTENT,  /* chunks with text, a tool call, or the finish were emitted */
	ANTHROPIC_EVENT_DONE,     /* message_stop: the stream is whole */
	ANTHROPIC_EVENT_ERROR,    /* an error event, or an event that could not be understood */
};

/* Receives each OpenAI chat.completion.chunk the translation produces, as compact JSON. */
typedef int (*anthropic_emit)(void *arg, const char *chunk, size_t len);

/* The state of one translated stream. */
struct anthropic_stream {
	char id[128];               /* "chatcmpl-" + the message id */
	char model[256];
	uint64_t created;
	bool include_usage;         /* the client asked for stream_options.include_usage */
	/* Anthropic streams content blocks one after another, each whole
	 * (start, deltas, stop) before the next starts, so only the open one is
	 * followed, whatever the number of blocks. */
	json_int_t block;           /* index of the block opened last, -1: none yet */
	int block_tool;             /* its OpenAI tool call index, -1: not a tool call */
	bool block_answer;          /* it is the answer tool: its input streams as content */
	bool answered;              /* the answer tool was called */
	int tools;                  /* tool calls seen (the answer tool not counted) */
	uint64_t input_tokens;
	uint64_t cached_tokens;     /* cache reads, part of input_tokens */
	uint64_t output_tokens;
	char error[200];            /* the error event's words, for ANTHROPIC_EVENT_ERROR */
};

void anthropic_stream_init(struct anthropic_stream *s, uint64_t created_unix, bool include_usage);

/*
 * Translates one Anthropic SSE event (its event name, and its data JSON) into
 * zero or more OpenAI chunks, given to emit in order:
 * - message_start → a chunk with delta {role:"assistant", content:""} (id,
 *   model and input tokens remembered);
 * - content_block_start of a tool_use → a chunk with delta tool_calls
 *   [{index, id, type:"function", function:{name, arguments:""}}], except
 *   for the answer tool, which gives nothing yet;
 * - content_block_delta text_delta → delta {content}; thinking_delta →
 *   delta {reasoning_content}; input_json_delta → delta tool_calls [{index,
 *   function:{arguments: partial_json}}], or delta {content: partial_json}
 *   for the answer tool;
 * - message_delta → a chunk with delta {} and finish_reason ("stop" when
 *   the answer tool was the only call), then, with include_usage, a chunk
 *   with choices [] and usage (cache reads as
 *   prompt_tokens_details.cached_tokens);
 * - message_stop → ANTHROPIC_EVENT_DONE (the caller adds [DONE]);
 * - ping, content_block_start of text or thinking, content_block_stop,
 *   signature deltas → nothing;
 * - error → ANTHROPIC_EVENT_ERROR with s->error set ("overloaded_error: Overloaded").
 * Every chunk carries id, object "chat.completion.chunk", created, model.
 * Returns the event's meaning; ANTHROPIC_EVENT_ERROR too when data is not JSON
 * or emit failed.
 */
enum anthropic_event anthropic_stream_event(struct anthropic_stream *s, const char *name, size_t name_len,
					    const char *data, size_t len, anthropic_emit emit, void *arg);

#endif

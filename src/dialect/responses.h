/* responses.h — OpenAI's Responses API in terms of chat completions: requests into chat requests, chat answers and chunks back into responses and their events, bytes in and bytes out (responses.c, responses_answer.c, responses_stream.c). */
#ifndef DETOUR_RESPONSES_H
#define DETOUR_RESPONSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "rng.h"

/*
 * A client speaking the Responses API (POST /v1/responses) is served by the
 * chat completions path: its request is translated into a chat request here,
 * that request goes through the attempt loop like any other (and from there to
 * any upstream dialect), and the chat answer, whole or as chunks, is turned
 * back into a `response` object or the Responses event stream. Nothing here
 * touches a socket, a clock or the store: times, ids and randomness come in as
 * arguments, so the unit tests are exact.
 *
 * Conversation state (previous_response_id) is expanded before translation:
 * responses_continue builds the whole input from what the store kept, then
 * responses_request translates it (and ignores previous_response_id, which is
 * only echoed back).
 */

/* What translating a request came to (the values of enum dialect_built). */
enum responses_result {
	RESPONSES_FAILED = -1,  /* out of memory or out full: detour's fault, not the client's */
	RESPONSES_OK = 0,
	RESPONSES_REFUSED = 1,  /* the request cannot be said in chat completions: why names the field, for a 400 */
};

/* How ids are made: "<prefix>" + 48 lowercase hex digits from rng, the shape
 * of OpenAI's ids. out holds at least RESPONSES_ID_SIZE bytes. */
#define RESPONSES_ID_SIZE 64
void responses_id(struct rng *rng, const char *prefix, char *out);

/* ---- requests (responses.c) ---- */

struct responses_options {
	const char *model;             /* NULL: the request's model */
	bool max_completion_tokens;    /* say max_output_tokens as max_completion_tokens (always so with reasoning) */
};

/*
 * Appends to out the chat completions request body for a Responses request
 * (a parsed JSON object):
 * - instructions (a string) → a system message, first;
 * - input: a string → one user message with that string; a list of items:
 *   - messages ({type:"message"} or no type; role user, system, developer or
 *     assistant; content a string or parts) keep their role; parts map
 *     input_text and output_text → text, input_image {image_url} → image_url
 *     {url, detail}; an assistant's parts are joined into one string (refusal
 *     parts included), which every chat upstream accepts; input_image with a
 *     file_id, input_file and other part types are refused;
 *   - function_call {call_id, name, arguments} → a tool call on the assistant
 *     message before it when there is one (a text answer and its calls, or
 *     parallel calls, are one chat turn), else on a new assistant message;
 *   - function_call_output {call_id, output} → a tool message (an output of
 *     input_text parts is joined into a string);
 *   - reasoning items are left out (chat has no form for them, and they are
 *     the model's own notes, not the conversation);
 *   - any other item type (web_search_call, computer_call, item_reference, ...)
 *     is refused, naming it;
 * - tools: function tools {type:"function", name, description, parameters,
 *   strict} → {type:"function", function:{name, description, parameters,
 *   strict}}; any other tool type (web_search_preview, file_search,
 *   computer_use_preview, mcp, ...) is refused, naming it;
 * - tool_choice "auto"/"none"/"required" stay; {type:"function", name} →
 *   {type:"function", function:{name}}; others refused. tool_choice and
 *   parallel_tool_calls go only with tools (chat refuses them alone);
 * - max_output_tokens → max_tokens, or max_completion_tokens (options, or when
 *   reasoning is asked for: reasoning models refuse max_tokens);
 * - temperature, top_p, user, safety_identifier, prompt_cache_key,
 *   service_tier → the same; reasoning.effort → reasoning_effort;
 *   text.verbosity → verbosity;
 * - text.format {type:"json_schema", name, schema, strict, description} →
 *   response_format {type:"json_schema", json_schema:{name, schema, strict,
 *   description}}; {type:"json_object"} → response_format {type:"json_object"};
 *   {type:"text"} → nothing;
 * - stream true → stream true with stream_options {include_usage: true} (a
 *   response always carries usage);
 * - model: options' model, else the request's (a request without one is refused).
 * Not sent upstream: store and metadata (they belong to detour's store and are
 *   echoed back; chat's store would keep a copy at the provider the client
 *   never asked for), previous_response_id (expanded by responses_continue),
 *   truncation, include, max_tool_calls, top_logprobs, reasoning.summary.
 * Refused: background true, prompt (stored prompt templates), conversation.
 * Returns RESPONSES_OK, RESPONSES_REFUSED with why filled, or RESPONSES_FAILED
 * (why filled too); out is unchanged unless RESPONSES_OK.
 */
enum responses_result responses_request(const json_t *request, const struct responses_options *o, struct buf *out,
					char *why, size_t whylen);

/* As responses_request, on the client's bytes; a body that is not a JSON
 * object is refused. */
enum responses_result responses_request_bytes(const char *body, size_t len, const struct responses_options *o,
					      struct buf *out, char *why, size_t whylen);

/*
 * The request's input as a new list of items: a string becomes [{type:
 * "message", role:"user", content: the string}], a list is copied (items
 * shared, not deep-copied). NULL when input is neither (or out of memory).
 */
json_t *responses_input_items(const json_t *request);

/*
 * Appends to items (a list) the output items of a stored response object as
 * input items for the next turn: message and function_call items as they are
 * (the API takes its own output back as input), reasoning items only when they
 * carry encrypted_content (without it they name state kept at the provider
 * that made them, which another target does not have); other items (built-in
 * tool calls) as they are, so a chat target refuses them by name.
 * Returns 0, or -1 when out of memory (items may then hold some of them).
 */
int responses_append_output(json_t *items, const json_t *response);

/*
 * previous_response_id expanded: a new request, a copy of request whose input
 * is previous_input (the stored response's whole input, a list), then the
 * stored response's output (responses_append_output), then the request's own
 * input. previous_response_id is kept for the echo; instructions are the
 * request's alone (the API does not carry them over). NULL when the request's
 * input is not a string or a list, previous_input is not a list, or out of
 * memory. The stored input of the new response is the returned input.
 */
json_t *responses_continue(const json_t *request, const json_t *previous_input, const json_t *previous_response);

/* ---- whole answers (responses_answer.c) ---- */

/* What the response echoes beside its output: the client's request, its id, its time. */
struct responses_meta {
	const json_t *request;  /* the Responses request (borrowed): instructions, tools, text, ... are echoed */
	const char *id;         /* "resp_..." */
	uint64_t created_at;    /* unix seconds */
};

/*
 * The `response` object with status status ("in_progress", "completed",
 * "incomplete", "failed"), model, output [] and usage null, and the echoed
 * request fields the SDKs read: instructions, max_output_tokens,
 * parallel_tool_calls (default true), previous_response_id, reasoning
 * {effort, summary}, store (default true), temperature (default 1), text
 * {format} (default {type:"text"}), tool_choice (default "auto"), tools
 * (default []), top_p (default 1), truncation (default "disabled"), user,
 * metadata (default {}), background false, error null, incomplete_details
 * null. model is the request's until an answer names one. NULL when out of
 * memory.
 */
json_t *responses_object(const struct responses_meta *m, const char *status);

/*
 * A chat usage object as the Responses one: {input_tokens: prompt_tokens,
 * input_tokens_details {cached_tokens: prompt_tokens_details.cached_tokens},
 * output_tokens: completion_tokens, output_tokens_details {reasoning_tokens:
 * completion_tokens_details.reasoning_tokens}, total_tokens (given, else the
 * sum)}; absent counts are 0. NULL when out of memory.
 */
json_t *responses_usage(const json_t *chat_usage);

/*
 * The response for a whole chat.completion (choice 0): output is a message
 * item {type:"message", id "msg_…", status, role:"assistant", content:
 * [{type:"output_text", text, annotations:[]}] (and a {type:"refusal",
 * refusal} part for a refusal)} when the answer has text, then one
 * function_call item {type:"function_call", id "fc_…", call_id, name,
 * arguments, status:"completed"} per tool call. status is "completed", or
 * "incomplete" with incomplete_details {reason: "max_output_tokens"} for
 * finish_reason length and {reason: "content_filter"} for content_filter (the
 * message item is then "incomplete" too). model is the answer's; usage is
 * responses_usage of the answer's. Ids come from rng. Returns the object
 * (the caller decrefs), or NULL when chat is not a chat.completion (or out of
 * memory).
 */
json_t *responses_answer(const struct responses_meta *m, const char *chat, size_t len, struct rng *rng);

/* As responses_answer, appended to out as compact JSON; 0, or -1 (out unchanged). */
int responses_answer_bytes(const struct responses_meta *m, const char *chat, size_t len, struct rng *rng,
			   struct buf *out);

/* ---- streams (responses_stream.c) ---- */

/* A stream holds at most this many output items (one message, the rest tool
 * calls) and this many bytes of text and arguments in all (kept for the .done
 * events and the final response); past either the chunk is refused with
 * RESPONSES_STREAM_ERROR and the caller ends the stream with response.failed. */
#define RESPONSES_STREAM_MAX_ITEMS 32
#define RESPONSES_STREAM_MAX_BYTES (8u * 1024 * 1024)

/* What one chat chunk meant to the relay. */
enum responses_stream_event {
	RESPONSES_STREAM_NONE,     /* nothing the client would show (role chunks, usage, empty deltas) */
	RESPONSES_STREAM_CONTENT,  /* output events were written: the commit point is the first of these */
	RESPONSES_STREAM_DONE,     /* "[DONE]": the closing events and response.completed/incomplete were written */
	RESPONSES_STREAM_ERROR,    /* not a chunk, a cap passed, or out full: s->words says which; out is as it was */
};

struct responses_stream_item {
	bool is_call;               /* a function_call item, else a message */
	bool open;                  /* added and not yet done */
	const char *status;         /* static: "in_progress", then "completed" or "incomplete" */
	long long call_index;       /* the chat tool_calls index of a function call */
	char id[RESPONSES_ID_SIZE]; /* "msg_…" or "fc_…" */
	struct buf call;            /* a function call's call_id then name, as JSON strings */
	size_t call_id_len;         /* ... the call_id's bytes in call */
	struct buf data;            /* the message's text or the call's arguments so far, JSON-escaped, no quotes */
};

/* The counts of a chat usage object (absent or negative ones are 0). */
struct responses_counts {
	json_int_t input, cached, output, reasoning, total;
};

/* One translated stream. The memory is the caller's; its buffers are freed by responses_stream_free. */
struct responses_stream {
	struct responses_meta meta;  /* request borrowed: it must outlive the stream */
	struct rng *rng;             /* borrowed: item ids */
	uint64_t sequence;           /* the next event's sequence_number */
	struct buf model;            /* the chunks' model as a JSON string, once one names it */
	bool has_usage;              /* a chunk carried usage: */
	struct responses_counts usage; /* ... its counts */
	const char *incomplete;      /* static: why the finish_reason left the response incomplete, NULL: it did not */
	const char *status;          /* static: the response's status, "in_progress" until it ends */
	struct buf error;            /* the error object of response.failed, as JSON */
	size_t held;                 /* bytes (decoded) held in items' buffers */
	size_t items;                /* items begun */
	struct responses_stream_item item[RESPONSES_STREAM_MAX_ITEMS];
	bool ended;                  /* response.completed, .incomplete or .failed was written */
	char words[200];             /* why a call failed */
};

void responses_stream_init(struct responses_stream *s, const struct responses_meta *m, struct rng *rng);
void responses_stream_free(struct responses_stream *s);

/*
 * Every function below appends whole SSE frames to out ("event: <type>\n
 * data: <json>\n\n", each JSON carrying type and sequence_number, numbered from
 * 0 in the order written) or nothing: a call that fails leaves out and the
 * sequence as they were (the items may have moved on: after a failure the
 * stream is good for responses_stream_fail only).
 *
 * The commit point: begin's two events and every chunk that returns
 * RESPONSES_STREAM_NONE say nothing the client would show, so a relay may
 * hold them and fall over invisibly; the first RESPONSES_STREAM_CONTENT is
 * the first output delta. Before falling over to another target, a relay
 * frees the stream and starts a new one with the same meta (the held bytes
 * are dropped; sequence numbers start again from 0).
 *
 * Known limits: chat's delta.refusal is not streamed (a whole answer's
 * refusal is kept, see responses_answer); only choice 0 is followed.
 */

/* response.created then response.in_progress (the response with status
 * in_progress, no output). Written once, before any chunk; 0 or -1. */
int responses_stream_begin(struct responses_stream *s, struct buf *out);

/*
 * One chat.completion.chunk (the JSON after "data: ", or "[DONE]"):
 * - text (delta.content) → for a new message item response.output_item.added
 *   and response.content_part.added, then response.output_text.delta;
 * - a tool call's first piece (delta.tool_calls[i] with an index not seen) →
 *   response.output_item.added of a function_call item (call_id, name,
 *   arguments ""), then its arguments as response.function_call_arguments.delta;
 *   later pieces → .delta;
 * - an item that opens closes the one before it (as the API does: items come
 *   one after the other), with the closing events of responses_stream_finish;
 *   text after a tool call opens a new message item; arguments for a call
 *   already closed are an error;
 * - finish_reason, usage and model are remembered, not written;
 * - "[DONE]" → responses_stream_finish.
 */
enum responses_stream_event responses_stream_chunk(struct responses_stream *s, const char *chunk, size_t len,
						   struct buf *out);

/*
 * The end of a whole stream (an upstream that ends without [DONE] is still
 * whole when its dialect says so): the open item is closed (a message:
 * response.output_text.done, response.content_part.done,
 * response.output_item.done; a call: response.function_call_arguments.done,
 * response.output_item.done), then response.completed, or response.incomplete
 * when the finish reason was length or content_filter, carrying the whole
 * response (responses_stream_response_bytes). 0, or -1 with s->words set.
 */
int responses_stream_finish(struct responses_stream *s, struct buf *out);

/*
 * A stream cut after the commit point: response.failed carrying the response
 * with status "failed", the output so far (items "incomplete") and error
 * {code, message} (code e.g. "server_error"; message the words for the
 * client, already redacted). Nothing else is written after it. 0 or -1.
 */
int responses_stream_fail(struct responses_stream *s, const char *code, const char *message, struct buf *out);

/*
 * The response as it stands (status "in_progress" until finish or fail;
 * then as written in the last event), appended to out as compact JSON (the
 * bytes its events carry): what the store keeps once the stream ended. 0, or
 * -1 (out as it was).
 */
int responses_stream_response_bytes(const struct responses_stream *s, struct buf *out);

#endif

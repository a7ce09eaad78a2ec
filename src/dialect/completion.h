/* completion.h — chat completions in both shapes: a whole answer told as SSE chunks, and chunks gathered back into a whole answer. */
#ifndef DETOUR_COMPLETION_H
#define DETOUR_COMPLETION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

/*
 * Appends to out the SSE events an OpenAI stream of this chat.completion
 * object would carry: per choice a role chunk, a reasoning_content chunk (when
 * there is reasoning), a content chunk (when there is content), a refusal
 * chunk (when there is one), a tool_calls chunk (when there are tool calls, each call whole at
 * its index), and a finish_reason chunk; then, when include_usage and the
 * answer has usage, a chunk with empty choices and the usage; then
 * "data: [DONE]". Every chunk keeps the answer's id, created and model, with
 * object "chat.completion.chunk". Returns 0, or -1 when answer is not a
 * chat.completion object or out is full.
 */
int completion_to_sse(const char *answer, size_t len, bool include_usage, struct buf *out);

/*
 * The chat.completion.chunk envelope, made here and nowhere else: {id, object
 * "chat.completion.chunk", created, model, system_fingerprint (when given and
 * not null), choices (taken)}. id, created, model and fingerprint are
 * borrowed; a NULL one is left out. NULL when out of memory (choices freed).
 */
json_t *completion_chunk(const json_t *id, const json_t *created, const json_t *model, const json_t *fingerprint,
			 json_t *choices);

/* One choice of a chunk: {index, delta (taken), logprobs null, finish_reason
 * (borrowed; NULL: null)}. NULL when delta is NULL or out of memory. */
json_t *completion_chunk_choice(json_int_t index, json_t *delta, const json_t *finish_reason);

/*
 * The offline answer: a chat.completion with one choice whose content is
 * message (refusal and logprobs null, as OpenAI's schema wants them), model
 * "detour-offline", finish_reason "stop", zero usage, id
 * "chatcmpl-detour-" followed by id_suffix, created created_unix. Appends the
 * JSON to out; returns 0 or -1.
 */
int completion_offline(const char *message, const char *id_suffix, uint64_t created_unix, struct buf *out);

/* One choice being gathered; completion.c's own. */
struct completion_gathered;

/*
 * Gathers the chunks of one streamed chat completion. Chunks are read in
 * place (jsonscan) and the answer's text kept as the JSON bytes it will be
 * written as, so a chunk costs no tree: what jansson's parse of each chunk
 * and its dump of the answer would give, byte for byte.
 */
struct completion_builder {
	struct buf id;          /* the first non-null id, as JSON; empty: none yet */
	struct buf model;
	struct buf created;
	struct buf usage;       /* the last usage object, as it came */
	struct completion_gathered **choices;   /* by choice index; NULL: a hole */
	size_t n_choices;
	size_t gathered;        /* text gathered, decoded bytes, over all choices */
	bool broken;            /* a chunk could not be understood; finish will fail */
};

void completion_builder_init(struct completion_builder *b);
void completion_builder_free(struct completion_builder *b);

/*
 * Adds one chunk (the JSON after "data: "): content, refusal and
 * reasoning_content pieces are concatenated,
 * tool calls are gathered by index (id, type and name from their first piece,
 * arguments concatenated), the last non-null finish_reason and any usage kept.
 */
void completion_builder_add(struct completion_builder *b, const char *chunk, size_t len);

/* As completion_builder_add, for a chunk jsonscan_valid accepted already
 * (a relay's dialect checked it): the same answer, without a second check. */
void completion_builder_add_valid(struct completion_builder *b, const char *chunk, size_t len);

/* The whole answer as a chat.completion JSON object that OpenAI's schema
 * accepts: message.content null when no text came, message.refusal null when
 * no refusal came, reasoning_content and tool_calls only when some came,
 * logprobs null, usage the stream's last (zeros when it carried none),
 * appended to out. Returns 0, or -1 when nothing usable was gathered or out
 * is full. */
int completion_builder_finish(struct completion_builder *b, struct buf *out);

#endif

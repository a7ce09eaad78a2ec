/* usage.h — the token counts an answer's or a chunk's usage object reports, found without a tree. */
#ifndef DETOUR_USAGE_H
#define DETOUR_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Chat Completions' prompt_tokens, completion_tokens and
 * prompt_tokens_details.cached_tokens, or the Responses API's input_tokens,
 * output_tokens and input_tokens_details.cached_tokens. */
struct usage {
	uint64_t prompt;
	uint64_t completion;
	uint64_t cached;
};

/*
 * Reads the top-level "usage" object of a whole answer, text[0..len), which
 * jsonscan_valid_object accepted. Looks from the end first (OpenAI writes
 * usage last, so only the answer's tail is read) and walks the top-level
 * members only when the tail has no top-level usage. Returns true and fills
 * out when an object was found; out is zeroed otherwise.
 */
bool usage_of_answer(const char *text, size_t len, struct usage *out);

/*
 * The same for one stream chunk, text[0..len), not yet validated. Most chunks
 * carry no usage (or "usage":null): a look for "usage":{ turns them away
 * before any JSON is read. Returns true and fills out when the chunk is a
 * valid object with a top-level usage object.
 */
bool usage_of_chunk(const char *text, size_t len, struct usage *out);

#endif

/* prefill.h — the request that continues a cut answer: the original chat request plus the text delivered so far as a trailing assistant message. */
#ifndef DETOUR_PREFILL_H
#define DETOUR_PREFILL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* How the partial answer is put to the model. */
enum prefill_style {
	PREFILL_INSTRUCT,       /* the partial, then a user message asking to go on from where it stops */
	PREFILL_CONTINUE_FINAL, /* the partial as the last message, with vLLM's continue_final_message */
	PREFILL_ASSISTANT_LAST, /* the partial as the last message, nothing else (Anthropic's own prefill) */
};

/* What the instruct style asks, word for word. */
#define PREFILL_INSTRUCTION \
	"Your previous message was cut off. Continue it exactly where it stops, without repeating any of it " \
	"and without any preamble."

/* Appends the continuation to root, a chat completions request (in place):
 * an assistant message of text (len bytes) and what style adds. Returns 0,
 * or -1 when root has no messages array or memory ran out. */
int prefill_chat(json_t *root, const char *text, size_t len, enum prefill_style style);

/* The chat request body (len bytes) with the continuation appended, as a new
 * compact JSON string the caller frees (*out_len bytes); NULL on failure. */
char *prefill_chat_body(const char *body, size_t len, const char *text, size_t text_len, enum prefill_style style,
			size_t *out_len);

#endif

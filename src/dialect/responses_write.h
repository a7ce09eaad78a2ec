/* responses_write.h — a Responses API `response` object written as bytes: chat JSON read in place as spans, the echoed request, usage and numbers (shared by whole answers and streams). */
#ifndef DETOUR_RESPONSES_WRITE_H
#define DETOUR_RESPONSES_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "jsonscan.h"
#include "responses.h"

/*
 * Why bytes: jansson's parse of a chat chunk and its dump of each event were
 * most of a translated request's cost. Every writer below appends to out and
 * returns 0, or non-zero when out is full or memory runs out (out may then
 * hold part of what was written: the caller truncates).
 */

/* A whole number >= 0, as jansson reads an integer, else 0. */
json_int_t responses_write_count(const struct jsonscan_value *s);

/*
 * Appends the string span as JSON: as written when it holds no escape (the
 * scanner checked its UTF-8 and it has no control byte), else decoded and
 * written again by detour's string writer. *decoded_len (when not NULL) is
 * the string's length once decoded.
 */
int responses_write_span(struct buf *out, const struct jsonscan_value *s, size_t *decoded_len);

/* The string span, or fallback (a JSON text) when it is not a string. */
int responses_write_string_or(struct buf *out, const struct jsonscan_value *s, const char *fallback);

/* A value of the client's request as JSON, or fallback (a JSON text) when absent or null. */
int responses_write_echo(struct buf *out, const json_t *request, const char *key, const char *fallback);

/* Reads a chat usage object span into u. */
void responses_write_usage_of(const struct jsonscan_value *usage, struct responses_counts *u);

/* The Responses usage object of u (see responses_usage: total given, else the sum). */
int responses_write_usage(struct buf *out, const struct responses_counts *u);

/*
 * The response's members up to and including `"output":[`, in
 * responses_object's order: status; error a JSON text or NULL (null);
 * incomplete the reason of incomplete_details or NULL (null); model a JSON
 * string or NULL (the request's, else "").
 */
int responses_write_open(struct buf *out, const struct responses_meta *m, const char *status, const char *error,
			 const char *incomplete, const char *model, size_t model_len);

/* The rest: `],` then the echoed fields, usage (u, or null when NULL), user, metadata, `}`. */
int responses_write_close(struct buf *out, const struct responses_meta *m, const struct responses_counts *u);

/*
 * A native upstream's response object (answer[0..len), which must be a
 * jsonscan-valid object) as detour's: "id" becomes id, "previous_response_id"
 * the client's (echoed from request, null when it sent none) and "store"
 * store, each added at the end when the answer lacks it; every other member
 * is copied as the upstream wrote it. Returns 0, or non-zero when out is full
 * or answer is not an object.
 */
int responses_write_adopted(struct buf *out, const char *answer, size_t len, const json_t *request, const char *id,
			    bool store);

#endif

/* mock_json.h — JSON in and out: request bodies parsed with a nesting cap, strings written escaped into a buffer. */
#ifndef DETOUR_MOCK_JSON_H
#define DETOUR_MOCK_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

/*
 * Deepest nesting mock_json_parse accepts. jansson parses recursively and a
 * connection thread has a small stack (256 KiB), so a body nested thousands
 * deep must be refused before jansson sees it; real API bodies stay under 20.
 */
#define MOCK_JSON_MAX_DEPTH 64

/*
 * Parses text[0..len) as one JSON value. Returns a new reference, or NULL with
 * a message in err (for an error body) when the text is not JSON or is nested
 * deeper than MOCK_JSON_MAX_DEPTH.
 */
json_t *mock_json_parse(const char *text, size_t len, char *err, size_t errlen);

/* Appends text[0..len) as a quoted, escaped JSON string. text must be UTF-8. Returns 0, or -1 when b has failed (this write or an earlier one refused). */
int mock_json_string(struct buf *b, const char *text, size_t len);

/* Appends a NUL-terminated string as mock_json_string does, or null when text is NULL. */
int mock_json_cstring(struct buf *b, const char *text);

/* Total bytes of every string inside value (keys excluded): the mock's stand-in for counting tokens. */
size_t mock_json_text_bytes(const json_t *value);

/*
 * A value valid for a plain JSON Schema, as a model forced to answer in it
 * would write: the first of enum, const, anyOf/oneOf/allOf and type lists
 * (null last); an object with every property; an array of one item; "mock",
 * 1 (or the minimum), true. $ref into root's #/$defs or #/definitions is
 * followed, nesting past 16 levels is null. Not a validator: formats,
 * patterns and lengths are ignored. New reference, NULL without memory.
 */
json_t *mock_json_example(const json_t *schema, const json_t *root);

#endif

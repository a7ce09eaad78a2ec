/* jsonscan.h — checks that bytes are one well-formed JSON value without building it (an upstream's answer, per request). */
#ifndef DETOUR_JSONSCAN_H
#define DETOUR_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Nesting deeper than this is refused, so a hostile answer cannot exhaust the stack. */
#define JSONSCAN_MAX_DEPTH 256

/* True when text[0..len) is exactly one JSON value (RFC 8259), surrounded by
 * optional white space. Allocates nothing; O(len). */
bool jsonscan_valid(const char *text, size_t len);

/* As jsonscan_valid, and the value is an object. */
bool jsonscan_valid_object(const char *text, size_t len);

/* --- reading a valid document in place (no tree is built) ---------------- */

enum jsonscan_type {
	JSONSCAN_OBJECT,
	JSONSCAN_ARRAY,
	JSONSCAN_STRING,
	JSONSCAN_NUMBER,
	JSONSCAN_TRUE,
	JSONSCAN_FALSE,
	JSONSCAN_NULL,
};

/* One member of an object, as spans of the text. */
struct jsonscan_member {
	const char *key;          /* between the quotes, escapes left as written */
	size_t key_len;
	const char *value;        /* the value's text: quotes, brackets and all */
	size_t value_len;
	enum jsonscan_type type;
};

/* Returns non-zero to stop the walk (jsonscan_members returns it). */
typedef int (*jsonscan_member_fn)(void *arg, const struct jsonscan_member *m);

/*
 * Calls fn for each member of the object text[0..len) (which jsonscan_valid
 * accepted), in order. Returns 0, fn's stop value, or -1 when text is not an
 * object.
 */
int jsonscan_members(const char *text, size_t len, jsonscan_member_fn fn, void *arg);

/*
 * Calls fn for each element of the array text[0..len) (which jsonscan_valid
 * accepted), in order, as a member whose key is NULL and key_len is the
 * element's index. Returns 0, fn's stop value, or -1 when text is not an
 * array.
 */
int jsonscan_elements(const char *text, size_t len, jsonscan_member_fn fn, void *arg);

/* True when the raw key of m, once unescaped, is name. */
bool jsonscan_key_is(const struct jsonscan_member *m, const char *name);

/* The type of the value text[0..len) (which must be valid). */
enum jsonscan_type jsonscan_type_of(const char *text, size_t len);

/* True for an array or object with no element. */
bool jsonscan_empty(const char *text, size_t len);

/*
 * Decodes the JSON string value text[0..len) (quotes included) into out as
 * UTF-8 with a NUL. Returns its length, or -1 when it is not a string, holds a
 * NUL, or does not fit in outlen.
 */
long jsonscan_decode_string(const char *text, size_t len, char *out, size_t outlen);

/* The value of the four hex digits at p, as a \\u escape jsonscan_valid accepted holds them. */
unsigned jsonscan_hex_value(const char *p);

/* Writes code point cp (below 0x110000) as UTF-8 into out (room for 4);
 * returns how many bytes it took. */
size_t jsonscan_utf8_encode(unsigned long cp, char *out);

/*
 * Appends the canonical form of the valid value text[0..len) to out: no white
 * space outside strings, every object's members sorted by their key's text
 * (escapes decoded; of members with one key only the last, which is the one a
 * JSON reader keeps), strings as written, integers as written and other
 * numbers as %.17g prints their double (0.7 and 0.70 agree), except those a
 * double cannot hold (1e400, 1e-400), which stay as written. Top-level
 * members whose key is in skip (a NULL-terminated list) are left out. Two
 * documents that differ only in member order or white space get the same form.
 * Returns 0, or -1 when out is full or memory runs out.
 */
int jsonscan_canonical(const char *text, size_t len, const char *const *skip, struct buf *out);

/* A value of a valid document as a span of its bytes; p NULL: absent. */
struct jsonscan_value {
	const char *p;
	size_t n;
	enum jsonscan_type type;
};

/* Fills spans[i] with obj's member keys[i] (the last of a name wins, as in
 * jansson); all absent when obj is not an object. A key written with escapes
 * is decoded; the names in keys hold no backslash. */
void jsonscan_pick(const struct jsonscan_value *obj, const char *const *keys, struct jsonscan_value *spans,
			  size_t n);

/* The first element of an array span; absent when it is empty or not an array. */
struct jsonscan_value jsonscan_first(const struct jsonscan_value *array);

bool jsonscan_is_string(const struct jsonscan_value *s);

/* True when the span is the string text (escapes decoded; text shorter than 64 bytes). */
bool jsonscan_value_is(const struct jsonscan_value *s, const char *text);

/* True when the span is a number jansson reads as an integer (no fraction, no
 * exponent, fits a long long); *v is then its value. */
bool jsonscan_integer(const struct jsonscan_value *s, long long *v);

#endif

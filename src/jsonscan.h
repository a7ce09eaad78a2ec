/* jsonscan.h — checks that bytes are one well-formed JSON value without building it (an upstream's answer, per request). */
#ifndef DETOUR_JSONSCAN_H
#define DETOUR_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Nesting deeper than this is refused, so a hostile answer cannot exhaust the stack. */
#define JSONSCAN_MAX_DEPTH 256

/* True when text[0..len) is exactly one JSON value (RFC 8259), surrounded by
 * optional white space. Allocates nothing; O(len). */
bool jsonscan_valid(const char *text, size_t len);

/* As jsonscan_valid, and the value is an object. */
bool jsonscan_valid_object(const char *text, size_t len);

#endif

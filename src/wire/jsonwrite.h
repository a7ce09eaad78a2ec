/* jsonwrite.h — a jansson tree written as compact JSON into a buf, without json_dumps's per-container cost. */
#ifndef DETOUR_JSONWRITE_H
#define DETOUR_JSONWRITE_H

#include <jansson.h>

#include "buf.h"

/*
 * Appends v (any value) to out as json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes it: members in the object's order, integers in
 * decimal, reals as jansson prints them (%.17g, ".0" added to a whole number,
 * the exponent without '+' or leading zeros), strings through
 * buf_append_json_escaped (the same JSON text; a control byte may be escaped
 * in another of its equal forms). Why not json_dumps: jansson 2.14 formats a
 * pointer and updates a hash table for every object and array it writes, to
 * catch cycles a tree built from JSON text cannot have; on a small request
 * that is most of its cost. A tree with a cycle must not be given.
 * Returns 0, or -1 (out as it was) when out is full, memory runs out, a
 * real is not finite, or nesting passes JSONSCAN_MAX_DEPTH.
 */
int jsonwrite(struct buf *out, const json_t *v);

/* Appends v in decimal (printf costs more than the rest of a small answer). Returns 0, or -1 when out is full. */
int jsonwrite_int(struct buf *out, json_int_t v);

#endif

/*
 * fuzz_jsonscan_jansson.c — differential: jsonscan_valid and jansson agree on what is JSON.
 *
 * jsonscan follows RFC 8259's grammar; jansson adds limits of its own, and
 * these differences are intended (jsonscan accepts, jansson refuses):
 * - an integer outside json_int_t, or a real that overflows a double (1e400):
 *   the RFC leaves range to implementations, and detour passes numbers through;
 * - a \u escape of a lone UTF-16 surrogate ("\ud800"): grammatical, and
 *   jsonscan_decode_string reads it as U+FFFD;
 * - \u0000 in an object key: jansson keys are C strings.
 * And two the other way (jansson accepts, jsonscan refuses):
 * - nesting deeper than JSONSCAN_MAX_DEPTH (jansson allows 2048), refused so
 *   that a hostile answer cannot exhaust the stack;
 * - a raw NUL byte right after a number ("[1\0]", "0\0 "), which jansson 2.14
 *   skips; RFC 8259 allows no NUL outside a string's escapes.
 */
#include "fuzz.h"

#include <jansson.h>

#include "buf.h"
#include "jsonscan.h"

/* True when jansson's words name one of the intended differences above. */
static bool fuzz_jansson_limit(const json_error_t *err)
{
	static const char *const limits[] = {
		"too big integer", "too big negative integer", "real number overflow",
		"invalid Unicode", "NUL byte in object key not supported",
	};

	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
		if (strstr(err->text, limits[i]) != NULL)
			return true;
	return false;
}

/* Arrays and objects nested at v, v itself counted. */
static size_t fuzz_jansson_depth(const json_t *v)
{
	size_t deepest = 0, d, i;
	const char *key;
	json_t *child;

	if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			if ((d = fuzz_jansson_depth(child)) > deepest)
				deepest = d;
		return deepest + 1;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child)
			if ((d = fuzz_jansson_depth(child)) > deepest)
				deepest = d;
		return deepest + 1;
	}
	return 0;
}

/* Same values, a number by its value: the canonical form writes 1.0 as 1. */
static bool fuzz_jansson_same(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		json_array_foreach(a, i, v)
			if (!fuzz_jansson_same(v, json_array_get(b, i)))
				return false;
		return true;
	}
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, key, v)
			if (json_object_get(b, key) == NULL || !fuzz_jansson_same(v, json_object_get(b, key)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

/* The canonical form, read by jansson, holds the same values as the document. */
static void fuzz_jansson_canonical(const uint8_t *data, size_t size, const json_t *root)
{
	struct buf canon;
	json_t *again;

	buf_init(&canon, 1 << 20);
	FUZZ_REQUIRE(jsonscan_canonical((const char *)data, size, NULL, &canon) == 0);
	again = json_loadb(canon.data, canon.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	FUZZ_REQUIRE(again != NULL);
	FUZZ_REQUIRE(fuzz_jansson_same(root, again));
	json_decref(again);
	buf_free(&canon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	bool ours = jsonscan_valid((const char *)data, size);

	if (ours && root == NULL && !fuzz_jansson_limit(&err)) {
		fprintf(stderr, "jsonscan accepts what jansson refuses: %s\n", err.text);
		FUZZ_REQUIRE(!"jsonscan accepts only JSON");
	}
	if (ours && root != NULL)
		fuzz_jansson_canonical(data, size, root);
	if (!ours && root != NULL)
		FUZZ_REQUIRE(fuzz_jansson_depth(root) > JSONSCAN_MAX_DEPTH || memchr(data, '\0', size) != NULL);
	json_decref(root);
	return 0;
}

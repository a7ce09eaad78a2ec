/* usage.c — the token counts an answer's or a chunk's usage object reports, found without a tree. */
#include "usage.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"

/* How far from an answer's end the look for "usage" goes before the walk takes
 * over: OpenAI's usage object with every detail, and what follows it
 * (service_tier, system_fingerprint), is about 350 bytes. */
#define USAGE_TAIL 1024

static const char usage_key[] = "\"usage\"";
#define USAGE_KEY_LEN (sizeof usage_key - 1)

static bool usage_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static uint64_t usage_number(const struct jsonscan_member *m)
{
	return m->type == JSONSCAN_NUMBER && m->value[0] != '-' ? strtoull(m->value, NULL, 10) : 0;
}

static int usage_details(void *arg, const struct jsonscan_member *m)
{
	struct usage *u = arg;

	if (jsonscan_key_is(m, "cached_tokens"))
		u->cached = usage_number(m);
	return 0;
}

static int usage_member(void *arg, const struct jsonscan_member *m)
{
	struct usage *u = arg;

	if (jsonscan_key_is(m, "prompt_tokens") || jsonscan_key_is(m, "input_tokens"))
		u->prompt = usage_number(m);
	else if (jsonscan_key_is(m, "completion_tokens") || jsonscan_key_is(m, "output_tokens"))
		u->completion = usage_number(m);
	else if ((jsonscan_key_is(m, "prompt_tokens_details") || jsonscan_key_is(m, "input_tokens_details")) &&
		 m->type == JSONSCAN_OBJECT)
		jsonscan_members(m->value, m->value_len, usage_details, u);
	return 0;
}

static int usage_top(void *arg, const struct jsonscan_member *m)
{
	if (!jsonscan_key_is(m, "usage") || m->type != JSONSCAN_OBJECT)
		return 0;
	jsonscan_members(m->value, m->value_len, usage_member, arg);
	return 1;
}

/* After the key at key (its closing quote at key + USAGE_KEY_LEN - 1): the
 * opening brace of an object value, or NULL. */
static const char *usage_object_after(const char *key, const char *end)
{
	const char *p = key + USAGE_KEY_LEN;

	while (p < end && usage_space(*p))
		p++;
	if (p >= end || *p != ':')
		return NULL;
	p++;
	while (p < end && usage_space(*p))
		p++;
	return p < end && *p == '{' ? p : NULL;
}

/* True when the quote at text[at] is escaped (an odd run of backslashes before it). */
static bool usage_escaped(const char *text, size_t at)
{
	size_t n = 0;

	while (n < at && text[at - n - 1] == '\\')
		n++;
	return n % 2 == 1;
}

/* The bytes usage_closes_after stops at; any other byte is skipped in one step. */
static const unsigned char usage_structural[256] = {
	['"'] = 1, ['\\'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1,
};

/*
 * From the opening brace at open to the end of a valid document: sets
 * *value_end past the object that opens there, and returns how many
 * containers the rest closes beyond it. A member of the top-level object is
 * followed by exactly one close; a nested one by more.
 */
static int usage_closes_after(const char *open, const char *end, const char **value_end)
{
	const char *p = open;
	int depth = 0;
	bool in_string = false;

	*value_end = NULL;
	for (;;) {
		while (p < end && !usage_structural[(unsigned char)*p])
			p++;
		if (p >= end)
			break;
		if (*p == '\\')
			p++; /* only inside a string: the escaped byte is skipped */
		else if (*p == '"')
			in_string = !in_string;
		else if (!in_string && (*p == '{' || *p == '['))
			depth++;
		else if (!in_string && --depth == 0 && *value_end == NULL)
			*value_end = p + 1;
		p++;
	}
	return -depth;
}

/* The last "usage" in text[from..len) that is a key with an object value, or
 * NULL. Backwards from the end, from one 'u' to the one before (memrchr),
 * since usage sits in the last few hundred bytes. */
static const char *usage_last_key(const char *text, size_t from, size_t len, const char **open)
{
	const char *lo = text + from, *end = text + len, *u = end, *key;

	*open = NULL;
	while (u > lo && (u = memrchr(lo, 'u', (size_t)(u - lo))) != NULL) {
		key = u - 1;
		if (key < lo || end - key < (ptrdiff_t)USAGE_KEY_LEN || memcmp(key, usage_key, USAGE_KEY_LEN) != 0 ||
		    usage_escaped(text, (size_t)(key - text)))
			continue;
		/* In a valid document an unescaped "usage" is a whole string: a key when a colon follows. */
		if ((*open = usage_object_after(key, end)) != NULL)
			return key;
	}
	return NULL;
}

/* The tail's top-level usage object: true, with its counts, when found. */
static bool usage_from_tail(const char *text, size_t len, struct usage *out)
{
	const char *open, *value_end;

	if (usage_last_key(text, len > USAGE_TAIL ? len - USAGE_TAIL : 0, len, &open) == NULL)
		return false;
	/* The last usage key is nested: the walk decides. */
	if (usage_closes_after(open, text + len, &value_end) != 1 || value_end == NULL)
		return false;
	jsonscan_members(open, (size_t)(value_end - open), usage_member, out);
	return true;
}

bool usage_of_answer(const char *text, size_t len, struct usage *out)
{
	memset(out, 0, sizeof *out);
	if (usage_from_tail(text, len, out))
		return true;
	memset(out, 0, sizeof *out);
	return jsonscan_members(text, len, usage_top, out) == 1;
}

/* The first "usage" (quotes included) in p[0..end), or NULL. Every chunk of
 * a stream is looked at and few hold it: found from its g, a byte few others
 * in a chunk share, memchr takes a chunk in a few steps where memmem costs
 * hundreds of instructions. */
static const char *usage_find_key(const char *p, const char *end)
{
	const size_t at = 4;   /* the g's place in usage_key */
	const char *g;

	if (end - p < (ptrdiff_t)USAGE_KEY_LEN)
		return NULL;
	g = p + at;
	while (g < end && (g = memchr(g, 'g', (size_t)(end - g))) != NULL) {
		if ((size_t)(end - g) >= USAGE_KEY_LEN - at && memcmp(g - at, usage_key, USAGE_KEY_LEN) == 0)
			return g - at;
		g++;
	}
	return NULL;
}

bool usage_of_chunk(const char *text, size_t len, struct usage *out)
{
	const char *p = text, *end = text + len, *hit;
	bool object = false;

	memset(out, 0, sizeof *out);
	while (!object && (hit = usage_find_key(p, end)) != NULL) {
		object = usage_object_after(hit, end) != NULL;
		p = hit + USAGE_KEY_LEN;
	}
	if (!object || !jsonscan_valid_object(text, len))
		return false;
	return jsonscan_members(text, len, usage_top, out) == 1;
}

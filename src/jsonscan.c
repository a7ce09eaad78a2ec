/* jsonscan.c — checks that bytes are one well-formed JSON value without building it (an upstream's answer, per request). */
#include "jsonscan.h"

#include <string.h>

struct jsonscan {
	const unsigned char *p;
	const unsigned char *end;
	unsigned depth;
};

static bool jsonscan_value(struct jsonscan *s);

static void jsonscan_space(struct jsonscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool jsonscan_literal(struct jsonscan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool jsonscan_hex4(struct jsonscan *s)
{
	int i;

	for (i = 0; i < 4; i++, s->p++) {
		unsigned char c;

		if (s->p >= s->end)
			return false;
		c = *s->p;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* Bytes of the UTF-8 sequence starting at p, or 0 when it is malformed:
 * overlong forms, UTF-16 surrogates and code points past U+10FFFF included
 * (RFC 3629, section 4). */
static size_t jsonscan_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = *p, low = 0x80, high = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		low = 0xa0;
	else if (c == 0xed)
		high = 0x9f;
	else if (c == 0xf0)
		low = 0x90;
	else if (c == 0xf4)
		high = 0x8f;
	if ((size_t)(end - p) < n || p[1] < low || p[1] > high)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static bool jsonscan_string(struct jsonscan *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;
		size_t n;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			s->p++;
			if (s->p >= s->end)
				return false;
			c = *s->p;
			if (c == 'u') {
				s->p++;
				if (!jsonscan_hex4(s))
					return false;
				continue;
			}
			if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
				return false;
			s->p++;
			continue;
		}
		n = jsonscan_utf8(s->p, s->end);
		if (n == 0)
			return false;
		s->p += n;
	}
	return false;
}

static bool jsonscan_digits(struct jsonscan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool jsonscan_number(struct jsonscan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return false;
	if (*s->p == '0')
		s->p++;
	else if (!jsonscan_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!jsonscan_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!jsonscan_digits(s))
			return false;
	}
	return true;
}

/* Members of an object (is_object) or elements of an array, after the bracket. */
static bool jsonscan_container(struct jsonscan *s, bool is_object)
{
	unsigned char close = is_object ? '}' : ']';
	bool ok = false;

	if (++s->depth > JSONSCAN_MAX_DEPTH)
		return false;
	s->p++;
	jsonscan_space(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		ok = true;
		goto done;
	}
	for (;;) {
		if (is_object) {
			jsonscan_space(s);
			if (s->p >= s->end || *s->p != '"' || !jsonscan_string(s))
				goto done;
			jsonscan_space(s);
			if (s->p >= s->end || *s->p != ':')
				goto done;
			s->p++;
		}
		if (!jsonscan_value(s))
			goto done;
		jsonscan_space(s);
		if (s->p >= s->end)
			goto done;
		if (*s->p == close) {
			s->p++;
			ok = true;
			goto done;
		}
		if (*s->p != ',')
			goto done;
		s->p++;
	}
done:
	s->depth--;
	return ok;
}

static bool jsonscan_value(struct jsonscan *s)
{
	jsonscan_space(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{': return jsonscan_container(s, true);
	case '[': return jsonscan_container(s, false);
	case '"': return jsonscan_string(s);
	case 't': return jsonscan_literal(s, "true");
	case 'f': return jsonscan_literal(s, "false");
	case 'n': return jsonscan_literal(s, "null");
	default: return jsonscan_number(s);
	}
}

bool jsonscan_valid(const char *text, size_t len)
{
	struct jsonscan s = { (const unsigned char *)text, (const unsigned char *)text + len, 0 };

	if (text == NULL || !jsonscan_value(&s))
		return false;
	jsonscan_space(&s);
	return s.p == s.end;
}

bool jsonscan_valid_object(const char *text, size_t len)
{
	size_t i = 0;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	return i < len && text[i] == '{' && jsonscan_valid(text, len);
}

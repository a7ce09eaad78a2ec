/* jsonscan.c — checks that bytes are one well-formed JSON value without building it (an upstream's answer, per request). */
#include "jsonscan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct jsonscan {
	const unsigned char *p;
	const unsigned char *end;
	unsigned depth;
};

static bool jsonscan_value(struct jsonscan *s);

#define JSONSCAN_ONES 0x0101010101010101ULL
#define JSONSCAN_HIGHS 0x8080808080808080ULL

/*
 * The high bit of each byte of w that is below 0x20, a quote, a backslash or
 * 0x80 and up. Above the first such byte a borrow may mark others too, but
 * the lowest mark is always exact, and that is the only one read.
 */
static uint64_t jsonscan_word_special(uint64_t w)
{
	uint64_t quote = w ^ (JSONSCAN_ONES * '"');
	uint64_t slash = w ^ (JSONSCAN_ONES * '\\');
	uint64_t low = (w - JSONSCAN_ONES * 0x20) & ~w;

	quote = (quote - JSONSCAN_ONES) & ~quote;
	slash = (slash - JSONSCAN_ONES) & ~slash;
	return (low | quote | slash | w) & JSONSCAN_HIGHS;
}

static void jsonscan_space(struct jsonscan *s)
{
	/* Most values follow their comma or colon at once: one compare decides. */
	while (s->p < s->end && *s->p <= ' ' && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
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

/* Bytes a string holds as they are: printable ASCII but the quote and the backslash. */
static const unsigned char jsonscan_plain[256] = {
#define JSONSCAN_PLAIN8 1, 1, 1, 1, 1, 1, 1, 1
#define JSONSCAN_PLAIN32 JSONSCAN_PLAIN8, JSONSCAN_PLAIN8, JSONSCAN_PLAIN8, JSONSCAN_PLAIN8
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x22 is the quote */
	[0x30] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x40] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,   /* 0x5c is the backslash */
	[0x60] = JSONSCAN_PLAIN32,
#undef JSONSCAN_PLAIN32
#undef JSONSCAN_PLAIN8
};

static bool jsonscan_string(struct jsonscan *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c;
		size_t n;

		/* Eight plain ASCII bytes at a time: no quote, backslash, control byte
		 * or UTF-8. On a little-endian machine the word that holds the special
		 * byte also tells where it is. */
		while (s->end - s->p >= 8) {
			uint64_t w, special;

			memcpy(&w, s->p, 8);
			special = jsonscan_word_special(w);
			if (special == 0) {
				s->p += 8;
				continue;
			}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			s->p += (unsigned)__builtin_ctzll(special) / 8;
#endif
			break;
		}
		/* Then byte by byte up to the special one, without looking at words
		 * again: most strings (keys, short values) end within their first word. */
		while (s->p < s->end && jsonscan_plain[*s->p])
			s->p++;
		if (s->p >= s->end)
			break;
		c = *s->p;

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

/* --- reading a valid document in place ---------------------------------- */

/* Past the closing quote of the string that opens at p, in text already
 * validated: memchr finds quotes, and a quote after an odd run of
 * backslashes is escaped. */
static const char *jsonscan_skip_string(const char *p, const char *end)
{
	p++;
	for (;;) {
		const char *q = memchr(p, '"', (size_t)(end - p)), *b;

		if (q == NULL)
			return end;
		for (b = q; b > p && b[-1] == '\\'; b--)
			;
		if ((q - b) % 2 == 0)
			return q + 1;
		p = q + 1;
	}
}

/* The bytes jsonscan_skip stops at inside a container; any other is passed in one step. */
static const unsigned char jsonscan_structural[256] = {
	['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1,
};

/* The end of the valid value starting at p (after white space). It does not
 * check again what jsonscan_valid checked, so walking a document costs about
 * a look at each byte. */
static const char *jsonscan_skip(const char *p, const char *end)
{
	unsigned depth = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p < end && *p == '"')
		return jsonscan_skip_string(p, end);
	if (p < end && (*p == '{' || *p == '[')) {
		while (p < end) {
			char c;

			while (p < end && !jsonscan_structural[(unsigned char)*p])
				p++;
			if (p >= end)
				break;
			c = *p;
			if (c == '"') {
				p = jsonscan_skip_string(p, end);
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if (--depth == 0)
				return p + 1;
			p++;
		}
		return end;
	}
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' &&
	       *p != '\r')
		p++;
	return p;
}

static const char *jsonscan_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

enum jsonscan_type jsonscan_type_of(const char *text, size_t len)
{
	const char *p = jsonscan_ws(text, text + len);

	if (p >= text + len)
		return JSONSCAN_NULL;
	switch (*p) {
	case '{': return JSONSCAN_OBJECT;
	case '[': return JSONSCAN_ARRAY;
	case '"': return JSONSCAN_STRING;
	case 't': return JSONSCAN_TRUE;
	case 'f': return JSONSCAN_FALSE;
	case 'n': return JSONSCAN_NULL;
	default: return JSONSCAN_NUMBER;
	}
}

bool jsonscan_empty(const char *text, size_t len)
{
	const char *end = text + len, *p = jsonscan_ws(text, end);

	if (p >= end || (*p != '[' && *p != '{'))
		return false;
	p = jsonscan_ws(p + 1, end);
	return p < end && (*p == ']' || *p == '}');
}

/* Reads the value at p into m (its bytes and type); returns where the next
 * member or element starts (past white space and a comma), or the container's end. */
static const char *jsonscan_take_value(const char *p, const char *end, struct jsonscan_member *m)
{
	m->value = p;
	p = jsonscan_skip(p, end);
	m->value_len = (size_t)(p - m->value);
	m->type = jsonscan_type_of(m->value, m->value_len);
	p = jsonscan_ws(p, end);
	return p < end && *p == ',' ? jsonscan_ws(p + 1, end) : p;
}

int jsonscan_members(const char *text, size_t len, jsonscan_member_fn fn, void *arg)
{
	const char *end = text + len, *p = jsonscan_ws(text, end), *next;
	int rc;

	if (p >= end || *p != '{')
		return -1;
	p = jsonscan_ws(p + 1, end);
	while (p < end && *p == '"') {
		struct jsonscan_member m;
		const char *key_end = jsonscan_skip_string(p, end);

		m.key = p + 1;
		m.key_len = (size_t)(key_end - p) - 2;
		p = jsonscan_ws(key_end, end) + 1; /* past ':' */
		next = jsonscan_take_value(jsonscan_ws(p, end), end, &m);
		rc = fn(arg, &m);
		if (rc != 0)
			return rc;
		p = next;
	}
	return 0;
}

int jsonscan_elements(const char *text, size_t len, jsonscan_member_fn fn, void *arg)
{
	const char *end = text + len, *p = jsonscan_ws(text, end), *next;
	struct jsonscan_member m = { NULL, 0, NULL, 0, JSONSCAN_NULL };
	int rc;

	if (p >= end || *p != '[')
		return -1;
	p = jsonscan_ws(p + 1, end);
	while (p < end && *p != ']') {
		next = jsonscan_take_value(p, end, &m);
		rc = fn(arg, &m);
		if (rc != 0)
			return rc;
		m.key_len++;
		p = next;
	}
	return 0;
}

unsigned jsonscan_hex_value(const char *p)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

size_t jsonscan_utf8_encode(unsigned long cp, char *out)
{
	size_t k;

	if (cp < 0x80) {
		out[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	return k;
}

/* Writes code point cp as UTF-8 at out[*n], if it fits. */
static bool jsonscan_put_utf8(unsigned cp, char *out, size_t outlen, size_t *n)
{
	char b[4];
	size_t k = jsonscan_utf8_encode(cp, b);

	if (*n + k >= outlen)
		return false;
	memcpy(out + *n, b, k);
	*n += k;
	return true;
}

long jsonscan_decode_string(const char *text, size_t len, char *out, size_t outlen)
{
	const char *p = jsonscan_ws(text, text + len), *end;
	size_t n = 0;

	if (p >= text + len || *p != '"' || outlen == 0)
		return -1;
	end = jsonscan_skip(p, text + len) - 1; /* the closing quote */
	for (p++; p < end; p++) {
		unsigned cp;

		if (*p != '\\') {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			cp = jsonscan_hex_value(p + 1);
			p += 4;
			/* A surrogate pair joins into one code point; a lone half stands as U+FFFD. */
			if (cp >= 0xd800 && cp <= 0xdbff && end - p > 6 && p[1] == '\\' && p[2] == 'u') {
				unsigned low = jsonscan_hex_value(p + 3);

				if (low >= 0xdc00 && low <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
					p += 6;
				}
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			break;
		default: cp = (unsigned char)*p; break;
		}
		if (cp == 0 || !jsonscan_put_utf8(cp, out, outlen, &n))
			return -1;
	}
	out[n] = '\0';
	return (long)n;
}

bool jsonscan_key_is(const struct jsonscan_member *m, const char *name)
{
	size_t n;
	char decoded[128];
	long got;

	/* A key's first byte, when it is not an escape, is its text's first byte:
	 * most keys asked about are not the one at hand, and this tells at once. */
	if (m->key_len > 0 && m->key[0] != name[0] && m->key[0] != '\\')
		return false;
	n = strlen(name);
	if (memchr(m->key, '\\', m->key_len) == NULL)
		return m->key_len == n && memcmp(m->key, name, n) == 0;
	/* Rare: a key written with escapes. Decode it (quotes put back for the decoder). */
	if (m->key_len + 2 > sizeof decoded)
		return false;
	{
		char quoted[130];

		quoted[0] = '"';
		memcpy(quoted + 1, m->key, m->key_len);
		quoted[m->key_len + 1] = '"';
		got = jsonscan_decode_string(quoted, m->key_len + 2, decoded, sizeof decoded);
	}
	return got == (long)n && memcmp(decoded, name, n) == 0;
}

/* A member as the canonical form sorts it: by its key's text, escapes decoded. */
struct jsonscan_canon_member {
	const struct jsonscan_member *m;
	const char *key;   /* m->key as written, or decoded when it holds an escape */
	size_t key_len;
	bool decoded;
	size_t order;
};

static int jsonscan_canon_cmp(const void *a, const void *b)
{
	const struct jsonscan_canon_member *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return x->order < y->order ? -1 : 1;
}

static bool jsonscan_canon_same_key(const struct jsonscan_canon_member *x, const struct jsonscan_canon_member *y)
{
	return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

/*
 * Points each span at its key's text. A key with an escape is decoded into
 * scratch (a decoded key is never longer than its written form), so that
 * "\u0061" and "a" sort as the one key they are; a key that cannot be
 * decoded (a NUL) stays as written. Returns the scratch to free, or NULL with
 * *failed set when memory runs out.
 */
static char *jsonscan_canon_keys(struct jsonscan_canon_member *order, size_t n, bool *failed)
{
	char *scratch = NULL, *p;
	size_t i, need = 0;

	*failed = false;
	for (i = 0; i < n; i++) {
		order[i].key = order[i].m->key;
		order[i].key_len = order[i].m->key_len;
		order[i].decoded = false;
		if (memchr(order[i].m->key, '\\', order[i].m->key_len) != NULL)
			need += order[i].m->key_len + 1;
	}
	if (need == 0 || (scratch = malloc(need)) == NULL) {
		*failed = need != 0;
		return NULL;
	}
	for (i = 0, p = scratch; i < n; i++) {
		const struct jsonscan_member *m = order[i].m;
		long got;

		if (memchr(m->key, '\\', m->key_len) == NULL)
			continue;
		got = jsonscan_decode_string(m->key - 1, m->key_len + 2, p, m->key_len + 1);
		if (got < 0)
			continue;
		order[i].key = p;
		order[i].key_len = (size_t)got;
		order[i].decoded = true;
		p += m->key_len + 1;
	}
	return scratch;
}

/* Members an object's canonical form sorts without the heap: a chat
 * request's objects have a handful, and this runs for every request. */
#define JSONSCAN_CANON_LOCAL 8

struct jsonscan_gather {
	struct jsonscan_member *list;   /* local until it outgrows it, then the heap */
	struct jsonscan_member *local;
	size_t n;
	size_t cap;
	const char *const *skip;
};

static int jsonscan_gather_one(void *arg, const struct jsonscan_member *m)
{
	struct jsonscan_gather *g = arg;
	size_t i;

	for (i = 0; g->skip != NULL && g->skip[i] != NULL; i++)
		if (jsonscan_key_is(m, g->skip[i]))
			return 0;
	if (g->n == g->cap) {
		size_t cap = g->cap * 2;
		struct jsonscan_member *list = realloc(g->list == g->local ? NULL : g->list, cap * sizeof *list);

		if (list == NULL)
			return 1;
		if (g->list == g->local)
			memcpy(list, g->local, g->n * sizeof *list);
		g->list = list;
		g->cap = cap;
	}
	g->list[g->n++] = *m;
	return 0;
}

static int jsonscan_canon(const char *text, size_t len, const char *const *skip, struct buf *out);

static int jsonscan_canon_object(const char *text, size_t len, const char *const *skip, struct buf *out)
{
	struct jsonscan_member local[JSONSCAN_CANON_LOCAL];
	struct jsonscan_canon_member local_order[JSONSCAN_CANON_LOCAL];
	struct jsonscan_gather g = { local, local, 0, JSONSCAN_CANON_LOCAL, skip };
	struct jsonscan_canon_member *order = local_order;
	char *scratch = NULL;
	bool failed, first = true;
	size_t i;
	int rc = -1;

	if (jsonscan_members(text, len, jsonscan_gather_one, &g) != 0)
		goto done;
	if (g.n > JSONSCAN_CANON_LOCAL && (order = malloc(g.n * sizeof *order)) == NULL)
		goto done;
	for (i = 0; i < g.n; i++) {
		order[i].m = &g.list[i];
		order[i].order = i;
	}
	scratch = jsonscan_canon_keys(order, g.n, &failed);
	if (failed)
		goto done;
	if (g.n > 1)
		qsort(order, g.n, sizeof *order, jsonscan_canon_cmp);
	if (buf_append(out, "{", 1) != 0)
		goto done;
	for (i = 0; i < g.n; i++) {
		const struct jsonscan_canon_member *k = &order[i];

		/* Of members with one key a reader keeps the last (jansson, Python,
		 * JavaScript do): the form keeps only it, so the earlier ones, which no
		 * upstream reads, cannot make two requests that mean the same differ. */
		if (i + 1 < g.n && jsonscan_canon_same_key(k, &order[i + 1]))
			continue;
		if ((!first && buf_append(out, ",", 1) != 0) || buf_append(out, "\"", 1) != 0 ||
		    (k->decoded ? buf_append_json_escaped(out, k->key, k->key_len)
				: buf_append(out, k->key, k->key_len)) != 0 ||
		    buf_append(out, "\":", 2) != 0 || jsonscan_canon(k->m->value, k->m->value_len, NULL, out) != 0)
			goto done;
		first = false;
	}
	rc = buf_append(out, "}", 1);
done:
	free(scratch);
	if (order != local_order)
		free(order);
	if (g.list != local)
		free(g.list);
	return rc;
}

static int jsonscan_canon_array(const char *text, size_t len, struct buf *out)
{
	const char *end = text + len, *p = jsonscan_ws(text, end) + 1;
	bool first = true;

	if (buf_append(out, "[", 1) != 0)
		return -1;
	for (p = jsonscan_ws(p, end); p < end && *p != ']'; p = jsonscan_ws(p, end)) {
		const char *v = p;

		p = jsonscan_skip(p, end);
		if ((!first && buf_append(out, ",", 1) != 0) || jsonscan_canon(v, (size_t)(p - v), NULL, out) != 0)
			return -1;
		first = false;
		p = jsonscan_ws(p, end);
		if (p < end && *p == ',')
			p++;
	}
	return buf_append(out, "]", 1);
}

/* A number with a fraction or exponent, written the one way %.17g writes its
 * double. One a double cannot hold (1e400, 1e-400) stays as written: printed
 * it would read inf or 0, which is not JSON or merges numbers that differ. */
static int jsonscan_canon_number(const char *p, size_t n, struct buf *out)
{
	char text[64];
	double v;

	if (memchr(p, '.', n) == NULL && memchr(p, 'e', n) == NULL && memchr(p, 'E', n) == NULL)
		return buf_append(out, p, n);
	if (n >= sizeof text)
		return buf_append(out, p, n);
	memcpy(text, p, n);
	text[n] = '\0';
	errno = 0;
	v = strtod(text, NULL);
	if (errno == ERANGE || !isfinite(v))
		return buf_append(out, p, n);
	return buf_printf(out, "%.17g", v);
}

static int jsonscan_canon(const char *text, size_t len, const char *const *skip, struct buf *out)
{
	const char *end = text + len, *p = jsonscan_ws(text, end), *q;

	switch (jsonscan_type_of(p, (size_t)(end - p))) {
	case JSONSCAN_OBJECT:
		return jsonscan_canon_object(p, (size_t)(end - p), skip, out);
	case JSONSCAN_ARRAY:
		return jsonscan_canon_array(p, (size_t)(end - p), out);
	case JSONSCAN_NUMBER:
		q = jsonscan_skip(p, end);
		return jsonscan_canon_number(p, (size_t)(q - p), out);
	default:
		q = jsonscan_skip(p, end);
		return buf_append(out, p, (size_t)(q - p));
	}
}

int jsonscan_canonical(const char *text, size_t len, const char *const *skip, struct buf *out)
{
	size_t before = out->len;
	int rc = jsonscan_canon(text, len, skip, out);

	if (rc != 0)
		buf_truncate(out, before);
	return rc;
}

/* ---- values picked out of a document by name ---- */

/* The members of one object wanted by name. */
struct jsonscan_picking {
	const char *const *keys;
	struct jsonscan_value *spans;
	size_t n;
};

/* True when the raw key key[0..len) is name, byte for byte. A key's bytes
 * are never NUL (JSON escapes control bytes), so a shorter name stops the
 * loop at its end. */
static bool jsonscan_same_bytes(const char *key, size_t len, const char *name)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (name[i] != key[i])
			return false;
	}
	return name[len] == '\0';
}

static int jsonscan_pick_member(void *arg, const struct jsonscan_member *m)
{
	struct jsonscan_picking *pick = arg;
	size_t i;

	/* Keys are compared as bytes first: a key that is a name byte for byte
	 * holds no escape (names hold no backslash), as all of a chat chunk's.
	 * Only a key with an escape is decoded. */
	for (i = 0; i < pick->n; i++) {
		if (jsonscan_same_bytes(m->key, m->key_len, pick->keys[i]))
			goto found;
	}
	if (memchr(m->key, '\\', m->key_len) == NULL)
		return 0;
	for (i = 0; i < pick->n; i++) {
		if (jsonscan_key_is(m, pick->keys[i]))
			goto found;
	}
	return 0;
found:
	pick->spans[i] = (struct jsonscan_value){ m->value, m->value_len, m->type };
	return 0;
}

void jsonscan_pick(const struct jsonscan_value *obj, const char *const *keys, struct jsonscan_value *spans,
			  size_t n)
{
	struct jsonscan_picking pick = { keys, spans, n };

	memset(spans, 0, n * sizeof *spans);
	if (obj->p != NULL && obj->type == JSONSCAN_OBJECT)
		jsonscan_members(obj->p, obj->n, jsonscan_pick_member, &pick);
}

static int jsonscan_first_element(void *arg, const struct jsonscan_member *m)
{
	*(struct jsonscan_value *)arg = (struct jsonscan_value){ m->value, m->value_len, m->type };
	return 1;
}

struct jsonscan_value jsonscan_first(const struct jsonscan_value *array)
{
	struct jsonscan_value first = { NULL, 0, JSONSCAN_NULL };

	if (array->p != NULL && array->type == JSONSCAN_ARRAY)
		jsonscan_elements(array->p, array->n, jsonscan_first_element, &first);
	return first;
}

bool jsonscan_is_string(const struct jsonscan_value *s)
{
	return s->p != NULL && s->type == JSONSCAN_STRING;
}

bool jsonscan_value_is(const struct jsonscan_value *s, const char *text)
{
	size_t n = strlen(text);
	char decoded[64];

	if (!jsonscan_is_string(s))
		return false;
	if (memchr(s->p, '\\', s->n) == NULL)
		return s->n == n + 2 && memcmp(s->p + 1, text, n) == 0;
	return jsonscan_decode_string(s->p, s->n, decoded, sizeof decoded) == (long)n && memcmp(decoded, text, n) == 0;
}

bool jsonscan_integer(const struct jsonscan_value *s, long long *v)
{
	char digits[32];

	if (s->p == NULL || s->type != JSONSCAN_NUMBER || s->n >= sizeof digits || memchr(s->p, '.', s->n) != NULL ||
	    memchr(s->p, 'e', s->n) != NULL || memchr(s->p, 'E', s->n) != NULL)
		return false;
	memcpy(digits, s->p, s->n);
	digits[s->n] = '\0';
	errno = 0;
	*v = strtoll(digits, NULL, 10);
	return errno == 0;
}

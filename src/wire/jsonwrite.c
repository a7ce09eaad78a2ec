/* jsonwrite.c — a jansson tree written as compact JSON into a buf, as json_dumps would, at a fraction of its cost. */
#include "jsonwrite.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jsonscan.h"

/* A real as jansson writes one (its jsonp_dtostr at the default precision). */
static int jsonwrite_real(struct buf *out, double d)
{
	char text[64], *e, *from, *to;
	int n;

	if (!isfinite(d))
		return -1;
	n = snprintf(text, sizeof text - 2, "%.17g", d);
	if (n < 0 || (size_t)n >= sizeof text - 2)
		return -1;
	if (strchr(text, '.') == NULL && strchr(text, 'e') == NULL)
		memcpy(text + n, ".0", 3);
	/* "1e+20" and "1e-05" as "1e20" and "1e-5". */
	if ((e = strchr(text, 'e')) != NULL) {
		to = e + 1;
		from = to;
		if (*from == '+')
			from++;
		else if (*from == '-')
			to = ++from;
		while (*from == '0' && from[1] != '\0')
			from++;
		memmove(to, from, strlen(from) + 1);
	}
	return buf_append_str(out, text);
}

static int jsonwrite_string(struct buf *out, const char *s, size_t n)
{
	return buf_append(out, "\"", 1) | buf_append_json_escaped(out, s, n) | buf_append(out, "\"", 1);
}

int jsonwrite_int(struct buf *out, json_int_t v)
{
	char digits[24], *p = digits + sizeof digits;
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	return buf_append(out, p, (size_t)(digits + sizeof digits - p));
}

static int jsonwrite_value(struct buf *out, const json_t *v, unsigned depth)
{
	const char *key;
	json_t *member;
	size_t i;
	int rc = 0;

	if (v == NULL || depth > JSONSCAN_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		rc = buf_append(out, "{", 1);
		i = 0;
		json_object_foreach((json_t *)v, key, member) {
			if (rc != 0)
				break;
			rc = (i++ > 0 ? buf_append(out, ",", 1) : 0) | jsonwrite_string(out, key, strlen(key)) |
			     buf_append(out, ":", 1) | jsonwrite_value(out, member, depth + 1);
		}
		return rc | buf_append(out, "}", 1);
	case JSON_ARRAY:
		rc = buf_append(out, "[", 1);
		for (i = 0; rc == 0 && i < json_array_size(v); i++)
			rc = (i > 0 ? buf_append(out, ",", 1) : 0) | jsonwrite_value(out, json_array_get(v, i), depth + 1);
		return rc | buf_append(out, "]", 1);
	case JSON_STRING:
		return jsonwrite_string(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return jsonwrite_int(out, json_integer_value(v));
	case JSON_REAL:
		return jsonwrite_real(out, json_real_value(v));
	case JSON_TRUE:
		return buf_append_str(out, "true");
	case JSON_FALSE:
		return buf_append_str(out, "false");
	case JSON_NULL:
		return buf_append_str(out, "null");
	}
	return -1;
}

int jsonwrite(struct buf *out, const json_t *v)
{
	size_t before = out->len;

	if (jsonwrite_value(out, v, 0) == 0)
		return 0;
	buf_truncate(out, before);
	return -1;
}

/* headerpass.c — which HTTP headers cross detour: an upstream's answer headers to the client, a client's headers to an upstream (pure). */
#include "headerpass.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A header name matches word exactly (case-insensitive). */
static bool headerpass_is(const char *name, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(name, word, len) == 0;
}

/* A header name starts with prefix and has more after it. */
static bool headerpass_starts(const char *name, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len > n && strncasecmp(name, prefix, n) == 0;
}

enum headerpass_answer headerpass_answer(const char *name, size_t len)
{
	enum headerpass_answer kind = HEADERPASS_DROP;

	if (headerpass_starts(name, len, "x-ratelimit-") || headerpass_starts(name, len, "anthropic-ratelimit-") ||
	    headerpass_is(name, len, "openai-processing-ms") || headerpass_is(name, len, "openai-version"))
		kind = HEADERPASS_KEEP;
	else if (headerpass_is(name, len, "x-request-id") || headerpass_is(name, len, "request-id"))
		kind = HEADERPASS_REQUEST_ID;
	return kind;
}

bool headerpass_answer_kept(const char *name, size_t len)
{
	return headerpass_answer(name, len) != HEADERPASS_DROP;
}

bool headerpass_value_ok(const char *value, size_t len)
{
	if (len == 0 || len > HEADERPASS_VALUE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

void headerpass_answer_lines(const char *lines, headerpass_add add, void *arg)
{
	char line[HEADERPASS_VALUE_MAX + 256];
	bool id_seen = false;

	for (const char *p = lines; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, "\n");
		char *colon;
		enum headerpass_answer kind;

		if (len < sizeof line) {
			memcpy(line, p, len);
			line[len] = '\0';
			colon = strchr(line, ':');
			kind = colon != NULL ? headerpass_answer(line, (size_t)(colon - line)) : HEADERPASS_DROP;
			if (kind != HEADERPASS_DROP) {
				char *value = colon + 1;

				*colon = '\0';
				value += strspn(value, " \t");
				if (!headerpass_value_ok(value, strlen(value)))
					kind = HEADERPASS_DROP;
				if (kind == HEADERPASS_KEEP)
					add(arg, line, value);
				else if (kind == HEADERPASS_REQUEST_ID && !id_seen) {
					id_seen = true;
					add(arg, HEADERPASS_UPSTREAM_REQUEST_ID, value);
				}
			}
		}
		p += len;
		p += *p == '\n';
	}
}

int headerpass_forward_line(const char *name, const char *value, char *out, size_t outlen)
{
	int n;

	if (!headerpass_value_ok(value, strlen(value)))
		return -1;
	n = snprintf(out, outlen, "%s: %s", name, value);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
